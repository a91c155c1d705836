//! Fuzz target `page_token`: the property `cspr_platform::fuzzing::page_token` (its doc says what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cspr_platform::fuzzing::page_token(data));
