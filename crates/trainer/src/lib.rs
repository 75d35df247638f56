//! Trains the heart-disease model: parse the data, cross-validate the recipe, fit on all rows,
//! render the artifact, the model card and the card's figures. Pure functions from the data
//! file's text to the files' text; `main.rs` does the reading and writing.

pub mod artifact;
pub mod cv;
pub mod data;
pub mod figures;
pub mod fit;

use artifact::{render_artifact, render_card, sha256_hex, DataFacts};
use cv::CvMetrics;
use figures::Figure;

/// Where the data set lives in the repository, relative to the top.
pub const DATA_FILE: &str = "model/data/processed.cleveland.data";
/// Where the trainer writes its outputs, relative to the top.
pub const ARTIFACT_FILE: &str = "model/artifact.rs";
pub const CARD_FILE: &str = "model/model-card.json";
/// The directory of the model card's figures (see [`figures`]).
pub const FIGURES_DIR: &str = "model/figures";

/// Everything one training run produces.
pub struct Trained {
    pub model: heart_model::LogisticModel,
    pub version: String,
    pub metrics: CvMetrics,
    pub artifact: String,
    pub card: String,
    /// The SVG figures, each with its path under [`FIGURES_DIR`].
    pub figures: Vec<Figure>,
}

impl Trained {
    /// Every file the trainer writes, `(path relative to the top, contents)`.
    pub fn outputs(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            (ARTIFACT_FILE, self.artifact.as_str()),
            (CARD_FILE, self.card.as_str()),
        ];
        out.extend(self.figures.iter().map(|f| (f.file, f.svg.as_str())));
        out
    }
}

/// Runs the whole recipe on the data file's bytes. Deterministic: the same bytes give the same
/// outputs, byte for byte.
pub fn train(data_bytes: &[u8]) -> Result<Trained, String> {
    let text =
        std::str::from_utf8(data_bytes).map_err(|e| format!("the data file is not UTF-8: {e}"))?;
    let examples = data::parse(text)?;
    let run = cv::cross_validate(&examples, cv::SCHEME)?;
    let metrics = run.metrics;
    let model = fit::fit(&examples)?;
    let figures = figures::render_figures(&model, &run, cv::SCHEME);
    let data_sha256 = sha256_hex(data_bytes);
    let (artifact, version) = render_artifact(&model, &data_sha256);
    let facts = DataFacts {
        file: DATA_FILE,
        sha256: data_sha256,
        rows: examples.len(),
        with_disease: examples.iter().filter(|e| e.disease).count(),
        source: "UCI Machine Learning Repository, Heart Disease data set (Cleveland subset)",
        doi: "10.24432/C52P4X",
        license: "CC BY 4.0",
        creators: [
            "Andras Janosi",
            "William Steinbrunn",
            "Matthias Pfisterer",
            "Robert Detrano",
        ],
    };
    let card = render_card(&model, &version, &facts, cv::SCHEME, &metrics, &figures);
    Ok(Trained {
        model,
        version,
        metrics,
        artifact,
        card,
        figures,
    })
}
