//! Replays every committed fuzz input through the fuzz target's own invariants
//! ([`fuzzing::check`], the function `fuzz/fuzz_targets/respond.rs` runs): no panic, a status
//! below 500, the model version header, a JSON body (problem+json on the native API's 4xx,
//! `{"error"}` under `/v2`), `Allow` on a 405, and for `POST /predict` the oracle's verdict.
//!
//! The inputs are the seed corpus, `fuzz/corpus/respond/`: the seeds `fuzz/seeds.py` writes
//! (`seed-*`) and every crash libFuzzer has found, kept there as `crash-<what>` once fixed
//! (libFuzzer saves it in `fuzz/artifacts/respond/`), so each is replayed here on every
//! `cargo test` and fuzzing starts from it too.

mod fuzzing;
mod oracle;

use std::path::{Path, PathBuf};

/// The committed inputs, in name order; the test fails if there are none.
fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2);
    let dir = root.expect("the repository").join("fuzz/corpus/respond");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; the fuzz inputs are missing", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{}: no fuzz inputs to replay",
        dir.display()
    );
    files
}

#[test]
fn every_committed_fuzz_input_keeps_the_invariants() {
    let inputs = inputs();
    let mut failed = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).expect("a readable input");
        if let Err(panic) = std::panic::catch_unwind(|| fuzzing::check(&data)) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failed.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} inputs break an invariant:\n{}",
        failed.len(),
        inputs.len(),
        failed.join("\n")
    );
}
