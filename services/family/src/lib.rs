//! Family engagement (in progress).

#![forbid(unsafe_code)]

pub mod crypto;
