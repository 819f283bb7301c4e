//! The evidence bundle / HTML reader and the page checks must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paypal_auth_verify::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::evidence(data);
});
