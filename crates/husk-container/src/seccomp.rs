//! seccomp (placeholder: being written)
