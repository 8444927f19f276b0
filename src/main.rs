//! palisade binary
fn main() {}
