//! capabilities (placeholder: being written)
