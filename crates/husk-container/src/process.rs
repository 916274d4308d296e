//! process (placeholder: being written)
