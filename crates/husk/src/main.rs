//! husk
fn main() {}
