//! Fuzz target `report_file`: the property `cspr_submissions::fuzzing::report_file` (its doc says what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cspr_submissions::fuzzing::report_file(data));
