//! tty (placeholder: being written)
