//! The report parser and the checks that read a parsed report must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paypal_auth_verify::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::report(data);
});
