//! container (placeholder: being written)
