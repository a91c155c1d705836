//! Fuzz target `event_decode`: the property `cspr_platform::fuzzing::event_decode` (its doc says what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cspr_platform::fuzzing::event_decode(data));
