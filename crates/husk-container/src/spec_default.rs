//! spec_default (placeholder: being written)
