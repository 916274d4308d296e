//! hooks (placeholder: being written)
