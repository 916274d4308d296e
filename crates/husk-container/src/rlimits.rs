//! rlimits (placeholder: being written)
