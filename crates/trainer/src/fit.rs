//! Fits the logistic regression: the preprocessing statistics from the core, the weights with
//! smartcore's L2-regularised logistic regression.

use heart_model::schema::N_ENCODED;
use heart_model::{LogisticModel, Preprocessor};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::data::Example;

/// L2 penalty: smartcore minimises Σ log-loss + α/2·‖w‖² with the intercept unpenalised,
/// which with α = 1 is scikit-learn's `LogisticRegression(C=1)`.
pub const ALPHA: f64 = 1.0;

/// Fits imputation, scaling and weights on `train` only (so cross-validation does not leak).
pub fn fit(train: &[Example]) -> Result<LogisticModel, String> {
    let patients: Vec<_> = train.iter().map(|e| e.patient).collect();
    let preprocessor = Preprocessor::fit(&patients);
    let rows: Vec<Vec<f64>> = patients
        .iter()
        .map(|p| preprocessor.encode(p).0.to_vec())
        .collect();
    let x =
        DenseMatrix::from_2d_vec(&rows).map_err(|e| format!("building the design matrix: {e}"))?;
    let y: Vec<u8> = train.iter().map(|e| u8::from(e.disease)).collect();
    let params = LogisticRegressionParameters::default().with_alpha(ALPHA);
    let lr = LogisticRegression::fit(&x, &y, params)
        .map_err(|e| format!("fitting the logistic regression: {e}"))?;
    let mut weights = [0.0; N_ENCODED];
    for (j, w) in weights.iter_mut().enumerate() {
        *w = *lr.coefficients().get((0, j));
    }
    let intercept = *lr.intercept().get((0, 0));
    Ok(LogisticModel {
        preprocessor,
        weights,
        intercept,
    })
}
