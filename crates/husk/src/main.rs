//! husk
mod cli;
mod name;
mod source;
#[cfg(test)]
mod testutil;
mod unpack;
fn main() {}
