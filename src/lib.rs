//! Palisade
#![forbid(unsafe_code)]
