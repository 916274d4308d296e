//! state (placeholder: being written)
