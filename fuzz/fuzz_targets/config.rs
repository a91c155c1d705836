//! Fuzz target `config`: the property `cspr_platform::fuzzing::config` (its doc says what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cspr_platform::fuzzing::config(data));
