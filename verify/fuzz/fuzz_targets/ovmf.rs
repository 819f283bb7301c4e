//! The OVMF footer-table/metadata parser and the launch digest must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paypal_auth_verify::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::ovmf(data);
});
