//! husk-sys
