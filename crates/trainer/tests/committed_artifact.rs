//! The committed `model/artifact.rs`, `model/model-card.json` and `model/figures/*.svg` are
//! exactly what the trainer produces now from the committed data; training is deterministic;
//! the recipe reaches the expected level.

use trainer::{train, DATA_FILE, FIGURES_DIR};

fn repo_file(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn committed_outputs_are_what_training_produces_now() {
    let data = repo_file(DATA_FILE);
    let first = train(&data).expect("training succeeds");
    let again = train(&data).expect("training succeeds");
    assert_eq!(
        first.outputs(),
        again.outputs(),
        "training is deterministic"
    );
    for (path, text) in first.outputs() {
        assert!(
            text.as_bytes() == repo_file(path).as_slice(),
            "{path} is stale: run `make train` and commit it"
        );
    }
    // No figure left over from an earlier trainer.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(FIGURES_DIR);
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| format!("{FIGURES_DIR}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    let mut written: Vec<&str> = first.figures.iter().map(|f| f.file).collect();
    written.sort();
    assert_eq!(
        on_disk, written,
        "{FIGURES_DIR} holds exactly the trainer's figures"
    );
    assert_eq!(
        first.version,
        heart_model::MODEL_VERSION,
        "the baked model is the trained one"
    );
    assert_eq!(first.model, heart_model::MODEL);
}

#[test]
fn cross_validated_quality_reaches_the_expected_level() {
    let t = train(&repo_file(DATA_FILE)).unwrap();
    // scikit-learn gets ROC-AUC 0.912 and log-loss 0.381 with this recipe on this data.
    assert!(
        t.metrics.roc_auc.mean >= 0.90,
        "ROC-AUC {:?}",
        t.metrics.roc_auc
    );
    assert!(
        t.metrics.log_loss.mean <= 0.40,
        "log-loss {:?}",
        t.metrics.log_loss
    );
    assert!(
        t.metrics.accuracy.mean >= 0.80,
        "accuracy {:?}",
        t.metrics.accuracy
    );
    assert!(t.metrics.brier.mean <= 0.15, "Brier {:?}", t.metrics.brier);
}

#[test]
fn a_changed_data_file_changes_the_version() {
    let data = repo_file(DATA_FILE);
    let text = String::from_utf8(data.clone()).unwrap();
    let fewer: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let other = train(fewer.as_bytes()).unwrap();
    assert_ne!(other.version, heart_model::MODEL_VERSION);
    assert_ne!(other.artifact, train(&data).unwrap().artifact);
}
