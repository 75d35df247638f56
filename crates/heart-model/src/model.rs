//! The fitted model as plain data, and inference: impute → encode → score → explain.
//!
//! Fitting the preprocessing statistics is here too (it is a few lines of arithmetic that the
//! trainer and the tests share); fitting the weights is the trainer's job (smartcore), so the
//! component carries no optimiser.

use crate::patient::Patient;
use crate::schema::{Domain, Encoding, FEATURES, N_ENCODED, N_FEATURES};

/// Probability at or above which `prediction` is 1 (disease).
pub const DECISION_THRESHOLD: f64 = 0.5;
/// Probability at or above which the risk level is `moderate` (below it: `low`).
pub const MODERATE_RISK_FROM: f64 = 0.3;
/// Probability at or above which the risk level is `high`.
pub const HIGH_RISK_FROM: f64 = 0.7;

/// Statistics learned from training data that turn a [`Patient`] into model inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocessor {
    /// Per feature: the training data's most frequent value, used when the value is missing.
    pub impute: [f64; N_FEATURES],
    /// Per feature: mean used by [`Encoding::Standardize`] (0 for other encodings).
    pub mean: [f64; N_FEATURES],
    /// Per feature: population standard deviation used by [`Encoding::Standardize`] (1 for
    /// other encodings, and where the data does not vary).
    pub scale: [f64; N_FEATURES],
}

/// A fitted logistic regression over the encoded features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticModel {
    pub preprocessor: Preprocessor,
    /// One weight per encoded column, in the order of [`crate::schema::Feature::encoded_names`].
    pub weights: [f64; N_ENCODED],
    pub intercept: f64,
}

/// The model's answer for one patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Probability of heart disease, σ(logit).
    pub probability: f64,
    /// 1 when `probability` ≥ [`DECISION_THRESHOLD`], else 0.
    pub prediction: u8,
    pub risk_level: RiskLevel,
    /// Per feature (in [`FEATURES`] order): its term in the logit, so a clinician sees which
    /// findings pushed the risk up (positive) or down (negative).
    pub contributions: [f64; N_FEATURES],
    /// The logit's constant term; `intercept + Σ contributions = logit`.
    pub intercept: f64,
    /// Per feature: whether its value was missing and imputed.
    pub imputed: [bool; N_FEATURES],
}

/// A coarse reading of the probability for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    /// probability < [`MODERATE_RISK_FROM`]
    Low,
    /// [`MODERATE_RISK_FROM`] ≤ probability < [`HIGH_RISK_FROM`]
    Moderate,
    /// probability ≥ [`HIGH_RISK_FROM`]
    High,
}

impl RiskLevel {
    pub fn from_probability(p: f64) -> Self {
        if p >= HIGH_RISK_FROM {
            RiskLevel::High
        } else if p >= MODERATE_RISK_FROM {
            RiskLevel::Moderate
        } else {
            RiskLevel::Low
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Moderate => "moderate",
            RiskLevel::High => "high",
        }
    }
}

/// The logistic function, written so that neither branch overflows.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Preprocessor {
    /// Learns imputation values, means and scales from training patients (like scikit-learn's
    /// `SimpleImputer(strategy="most_frequent")` followed by `StandardScaler`: ties go to the
    /// smallest value, the scaler sees imputed values, a constant column gets scale 1).
    ///
    /// # Panics
    /// When `patients` is empty.
    pub fn fit(patients: &[Patient]) -> Self {
        assert!(!patients.is_empty(), "cannot fit a preprocessor on no data");
        let mut impute = [0.0; N_FEATURES];
        let mut mean = [0.0; N_FEATURES];
        let mut scale = [1.0; N_FEATURES];
        for (i, feature) in FEATURES.iter().enumerate() {
            let mut present: Vec<f64> = patients.iter().filter_map(|p| p.get(i)).collect();
            present.sort_by(f64::total_cmp);
            impute[i] = most_frequent(&present);
            if feature.encoding == Encoding::Standardize {
                let column: Vec<f64> = patients
                    .iter()
                    .map(|p| p.get(i).unwrap_or(impute[i]))
                    .collect();
                let n = column.len() as f64;
                let m = column.iter().sum::<f64>() / n;
                let var = column.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
                mean[i] = m;
                scale[i] = if var > 0.0 { var.sqrt() } else { 1.0 };
            }
        }
        Preprocessor {
            impute,
            mean,
            scale,
        }
    }

    /// The encoded inputs for one patient, and which features were imputed.
    pub fn encode(&self, patient: &Patient) -> ([f64; N_ENCODED], [bool; N_FEATURES]) {
        let mut x = [0.0; N_ENCODED];
        let mut imputed = [false; N_FEATURES];
        let mut col = 0;
        for (i, feature) in FEATURES.iter().enumerate() {
            let value = patient.get(i).unwrap_or_else(|| {
                imputed[i] = true;
                self.impute[i]
            });
            match (feature.encoding, feature.domain) {
                (Encoding::OneHot, Domain::Levels(levels)) => {
                    for (j, level) in levels.iter().enumerate() {
                        x[col + j] = f64::from(u8::from(value == *level));
                    }
                }
                (Encoding::Standardize, _) => x[col] = (value - self.mean[i]) / self.scale[i],
                _ => x[col] = value,
            }
            col += feature.width();
        }
        (x, imputed)
    }
}

/// The most frequent value of a sorted, non-empty slice; the smallest among equals.
fn most_frequent(sorted: &[f64]) -> f64 {
    let mut best = (sorted[0], 0usize);
    let mut run = (sorted[0], 0usize);
    for &x in sorted {
        run = if x == run.0 { (x, run.1 + 1) } else { (x, 1) };
        if run.1 > best.1 {
            best = run;
        }
    }
    best.0
}

impl LogisticModel {
    /// Scores one patient and explains the score.
    pub fn assess(&self, patient: &Patient) -> Assessment {
        let (x, imputed) = self.preprocessor.encode(patient);
        let mut contributions = [0.0; N_FEATURES];
        let mut col = 0;
        for (i, feature) in FEATURES.iter().enumerate() {
            let w = feature.width();
            // `+ 0.0` turns -0.0 (a negative weight times an absent flag) into 0.
            contributions[i] = (col..col + w).map(|j| self.weights[j] * x[j]).sum::<f64>() + 0.0;
            col += w;
        }
        let logit = self.intercept + contributions.iter().sum::<f64>();
        let probability = sigmoid(logit);
        Assessment {
            probability,
            prediction: u8::from(probability >= DECISION_THRESHOLD),
            risk_level: RiskLevel::from_probability(probability),
            contributions,
            intercept: self.intercept,
            imputed,
        }
    }

    /// The probability of disease for one patient.
    pub fn probability(&self, patient: &Patient) -> f64 {
        self.assess(patient).probability
    }
}

impl Assessment {
    /// `intercept + Σ contributions`.
    pub fn logit(&self) -> f64 {
        self.intercept + self.contributions.iter().sum::<f64>()
    }

    /// Names of the imputed features.
    pub fn imputed_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        FEATURES
            .iter()
            .zip(self.imputed)
            .filter(|(_, i)| *i)
            .map(|(f, _)| f.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(values: [f64; N_FEATURES]) -> Patient {
        Patient::from_values(values.map(Some)).unwrap()
    }

    const A: [f64; N_FEATURES] = crate::schema::EXAMPLE;
    /// The data set's second patient.
    const B: [f64; N_FEATURES] = [
        67.0, 1.0, 4.0, 160.0, 286.0, 0.0, 2.0, 108.0, 1.0, 1.5, 2.0, 3.0, 3.0,
    ];

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn preprocessor_imputes_mode_and_standardizes() {
        let mut c = B;
        c[0] = 71.0;
        let data = [patient(A), patient(B), patient(c)];
        let pre = Preprocessor::fit(&data);
        assert_eq!(pre.impute[2], 4.0); // cp: 4 twice, 1 once
        assert_eq!(pre.impute[0], 63.0); // age: all distinct, smallest wins
        assert!((pre.mean[0] - 67.0).abs() < 1e-12);
        assert!((pre.scale[0] - (32.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((pre.mean[1], pre.scale[1]), (0.0, 1.0)); // sex is a flag: untouched

        let (x, imputed) = pre.encode(&patient(A));
        assert_eq!(&x[2..6], &[1.0, 0.0, 0.0, 0.0]); // cp=1 one-hot, after age and sex
        assert_eq!(imputed, [false; N_FEATURES]);

        let missing = patient(A).with(12, None).unwrap();
        let (x, imputed) = pre.encode(&missing);
        assert!(imputed[12]);
        assert_eq!(&x[N_ENCODED - 3..], &[1.0, 0.0, 0.0]); // thal imputed as 3 (mode)
    }

    #[test]
    fn contributions_add_up_to_the_logit() {
        let pre = Preprocessor::fit(&[patient(A), patient(B)]);
        let mut weights = [0.0; N_ENCODED];
        for (j, w) in weights.iter_mut().enumerate() {
            *w = (j as f64 - 10.0) / 7.0;
        }
        let model = LogisticModel {
            preprocessor: pre,
            weights,
            intercept: -0.25,
        };
        let a = model.assess(&patient(B));
        let (x, _) = pre.encode(&patient(B));
        let direct: f64 = -0.25 + weights.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
        assert!((a.logit() - direct).abs() < 1e-12);
        assert_eq!(a.probability, sigmoid(a.logit()));
        assert_eq!(a.prediction, u8::from(a.probability >= 0.5));
    }

    #[test]
    fn risk_levels_follow_the_thresholds() {
        assert_eq!(RiskLevel::from_probability(0.29), RiskLevel::Low);
        assert_eq!(
            RiskLevel::from_probability(MODERATE_RISK_FROM),
            RiskLevel::Moderate
        );
        assert_eq!(RiskLevel::from_probability(HIGH_RISK_FROM), RiskLevel::High);
    }
}
