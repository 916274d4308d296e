//! rootfs (placeholder: being written)
