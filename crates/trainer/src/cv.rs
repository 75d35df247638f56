//! Repeated stratified k-fold cross-validation and the metrics it reports.

use serde::Serialize;

use crate::data::Example;
use crate::fit::fit;

/// How the model is evaluated; recorded in the model card.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CvScheme {
    pub folds: usize,
    pub repeats: usize,
    pub seed: u64,
}

pub const SCHEME: CvScheme = CvScheme {
    folds: 10,
    repeats: 5,
    seed: 20_240_045,
};

/// Mean and sample standard deviation over the folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub mean: f64,
    pub sd: f64,
}

/// Cross-validated metrics of the recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CvMetrics {
    pub accuracy: Summary,
    pub roc_auc: Summary,
    pub log_loss: Summary,
    pub brier: Summary,
}

/// What a cross-validation run produces: the metrics, and every fold's out-of-fold
/// predictions (for the model card's figures).
#[derive(Debug, Clone, PartialEq)]
pub struct CvRun {
    pub metrics: CvMetrics,
    /// `(probability, disease)` for each held-out patient, one list per fold, in the order the
    /// folds were run (repeat by repeat).
    pub folds: Vec<Vec<(f64, bool)>>,
}

/// Runs the scheme: every repeat shuffles each class with its own seed and deals it into the
/// folds, so each fold keeps the class balance of the whole.
pub fn cross_validate(data: &[Example], scheme: CvScheme) -> Result<CvRun, String> {
    let mut rng = SplitMix64(scheme.seed);
    let mut per_fold: Vec<[f64; 4]> = Vec::new();
    let mut folds = Vec::new();
    for _ in 0..scheme.repeats {
        let mut fold_of = vec![0usize; data.len()];
        for class in [false, true] {
            let mut idx: Vec<usize> = (0..data.len())
                .filter(|&i| data[i].disease == class)
                .collect();
            rng.shuffle(&mut idx);
            for (k, i) in idx.into_iter().enumerate() {
                fold_of[i] = k % scheme.folds;
            }
        }
        for fold in 0..scheme.folds {
            let (test, train): (Vec<_>, Vec<_>) =
                (0..data.len()).partition(|&i| fold_of[i] == fold);
            let train: Vec<Example> = train.into_iter().map(|i| data[i]).collect();
            let model = fit(&train)?;
            let scored: Vec<(f64, bool)> = test
                .iter()
                .map(|&i| (model.probability(&data[i].patient), data[i].disease))
                .collect();
            per_fold.push([
                accuracy(&scored),
                roc_auc(&scored),
                log_loss(&scored),
                brier(&scored),
            ]);
            folds.push(scored);
        }
    }
    let summary = |m: usize| summarize(per_fold.iter().map(|f| f[m]));
    Ok(CvRun {
        metrics: CvMetrics {
            accuracy: summary(0),
            roc_auc: summary(1),
            log_loss: summary(2),
            brier: summary(3),
        },
        folds,
    })
}

fn summarize(values: impl Iterator<Item = f64>) -> Summary {
    let v: Vec<f64> = values.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Summary {
        mean,
        sd: var.sqrt(),
    }
}

/// Share of correct 0/1 calls at probability 0.5.
pub fn accuracy(scored: &[(f64, bool)]) -> f64 {
    let right = scored
        .iter()
        .filter(|(p, y)| (*p >= heart_model::model::DECISION_THRESHOLD) == *y)
        .count();
    right as f64 / scored.len() as f64
}

/// Area under the ROC curve: the chance that a random positive scores above a random
/// negative, ties counting half (Mann–Whitney).
pub fn roc_auc(scored: &[(f64, bool)]) -> f64 {
    let pos: Vec<f64> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

/// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15] like scikit-learn.
pub fn log_loss(scored: &[(f64, bool)]) -> f64 {
    let eps = 1e-15;
    let total: f64 = scored
        .iter()
        .map(|&(p, y)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    total / scored.len() as f64
}

/// Mean squared error of the probability.
pub fn brier(scored: &[(f64, bool)]) -> f64 {
    scored
        .iter()
        .map(|&(p, y)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / scored.len() as f64
}

/// A small, fixed pseudo-random generator (SplitMix64): the same seed gives the same folds on
/// every machine, with no dependency whose stream could change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_small_known_case() {
        let scored = [(0.9, true), (0.4, true), (0.6, false), (0.1, false)];
        assert_eq!(accuracy(&scored), 0.5);
        assert_eq!(roc_auc(&scored), 0.75);
        assert!((brier(&scored) - (0.01 + 0.36 + 0.36 + 0.01) / 4.0).abs() < 1e-15);
        let ll = -(0.9f64.ln() + 0.4f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 4.0;
        assert!((log_loss(&scored) - ll).abs() < 1e-15);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<u32> = (0..50).collect();
        let mut b = a.clone();
        SplitMix64(7).shuffle(&mut a);
        SplitMix64(7).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..50).collect::<Vec<_>>());
    }
}
