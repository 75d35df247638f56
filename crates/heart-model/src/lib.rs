//! Heart-disease risk model core: what the 13 UCI Cleveland features are ([`schema`]), how a
//! patient is checked ([`patient`]), and how the fitted logistic regression scores and
//! explains one ([`model`]). The trained weights are in [`baked`].
//!
//! Plain data and pure functions only: no HTTP, no JSON, no files, no clock. The wire format
//! (reading requests, writing answers) is `heart-wire`'s; the Spin component, the trainer,
//! the tests and the benchmarks all use this crate unchanged.

pub mod baked;
pub mod model;
pub mod patient;
pub mod schema;

pub use baked::{MODEL, MODEL_CARD_JSON, MODEL_VERSION};
pub use model::{Assessment, LogisticModel, Preprocessor, RiskLevel};
pub use patient::{FieldError, Patient};
pub use schema::{Feature, FEATURES};
