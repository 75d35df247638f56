//! The whole request path on the host, under libFuzzer: each input is decoded into a method,
//! path, content type and body, answered by `heart_api::respond`, and checked by the
//! invariants in crates/heart-api/tests/fuzzing (shared with tests/regressions.rs there,
//! which replays the committed inputs; its header describes the input layout).

#![no_main]

// The oracle (serde_json's reading and the feature table) and the invariants, shared with the
// service's tests.
#[path = "../../crates/heart-api/tests/fuzzing/mod.rs"]
mod fuzzing;
#[path = "../../crates/heart-api/tests/oracle/mod.rs"]
mod oracle;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check(data));
