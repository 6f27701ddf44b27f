//! Fuzz target `node_sealed`: see `hearsay_fuzz::bodies` for the body and its invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hearsay_fuzz::bodies::node_sealed(data);
});
