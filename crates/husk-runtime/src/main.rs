//! husk-runtime
fn main() {}
