//! spec (placeholder: being written)
