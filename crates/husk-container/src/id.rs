//! id (placeholder: being written)
