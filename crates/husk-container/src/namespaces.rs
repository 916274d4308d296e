//! namespaces (placeholder: being written)
