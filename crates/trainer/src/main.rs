//! `cargo run --release -p trainer [-- --check]`, run from the repository's top (`make train`).
//!
//! Reads `model/data/processed.cleveland.data`, prints the cross-validated metrics and writes
//! `model/artifact.rs`, `model/model-card.json` and the card's figures `model/figures/*.svg`.
//! With `--check` it writes nothing and fails when the committed files differ from what
//! training produces now.

use std::process::ExitCode;

use trainer::{train, DATA_FILE, FIGURES_DIR};

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("unknown argument {other:?}; usage: trainer [--check]");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trainer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(check: bool) -> Result<(), String> {
    let data = std::fs::read(DATA_FILE).map_err(|e| {
        format!("cannot read {DATA_FILE}: {e} (run from the repository's top, e.g. `make train`)")
    })?;
    let t = train(&data)?;
    let m = &t.metrics;
    println!(
        "model {}: stratified {}-fold CV x {} repeats (seed {})",
        t.version,
        trainer::cv::SCHEME.folds,
        trainer::cv::SCHEME.repeats,
        trainer::cv::SCHEME.seed
    );
    for (name, s) in [
        ("accuracy", m.accuracy),
        ("ROC-AUC", m.roc_auc),
        ("log-loss", m.log_loss),
        ("Brier", m.brier),
    ] {
        println!("  {name:<9} {:.4} ± {:.4}", s.mean, s.sd);
    }
    if !check {
        std::fs::create_dir_all(FIGURES_DIR)
            .map_err(|e| format!("cannot create {FIGURES_DIR}: {e}"))?;
    }
    for (path, text) in t.outputs() {
        if check {
            let committed = std::fs::read_to_string(path).unwrap_or_default();
            if committed != text {
                return Err(format!("{path} differs from what the trainer produces now; run `make train` and commit it"));
            }
            println!("{path}: up to date");
        } else {
            std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
            println!("wrote {path} ({} bytes)", text.len());
        }
    }
    Ok(())
}
