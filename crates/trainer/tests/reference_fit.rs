//! An independent check of the fitted weights: the same penalised objective minimised by
//! Newton's method (exact Hessian, Cholesky solve), written here from scratch. smartcore's
//! L-BFGS fit baked into the component must give the same probabilities to 1e-5.

use heart_model::schema::N_ENCODED;
use heart_model::{Preprocessor, MODEL};
use trainer::data::{parse, Example};
use trainer::fit::ALPHA;

const P: usize = N_ENCODED + 1; // weights, then the intercept

fn examples() -> Vec<Example> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(trainer::DATA_FILE);
    parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Minimises Σ log-loss + α/2·‖w‖² (intercept unpenalised) by Newton's method.
fn newton(x: &[[f64; P]], y: &[f64]) -> [f64; P] {
    let mut beta = [0.0; P];
    for _ in 0..50 {
        let mut grad = [0.0; P];
        let mut hess = [[0.0; P]; P];
        for (xi, yi) in x.iter().zip(y) {
            let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for j in 0..P {
                grad[j] += (p - yi) * xi[j];
                for k in 0..P {
                    hess[j][k] += p * (1.0 - p) * xi[j] * xi[k];
                }
            }
        }
        for j in 0..N_ENCODED {
            grad[j] += ALPHA * beta[j];
            hess[j][j] += ALPHA;
        }
        let step = cholesky_solve(hess, grad);
        for j in 0..P {
            beta[j] -= step[j];
        }
        if grad.iter().all(|g| g.abs() < 1e-12) {
            break;
        }
    }
    beta
}

fn cholesky_solve(a: [[f64; P]; P], b: [f64; P]) -> [f64; P] {
    let mut l = [[0.0; P]; P];
    for i in 0..P {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            l[i][j] = if i == j {
                (a[i][i] - s).sqrt()
            } else {
                (a[i][j] - s) / l[j][j]
            };
        }
    }
    let mut z = [0.0; P];
    for i in 0..P {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; P];
    for i in (0..P).rev() {
        x[i] = (z[i] - (i + 1..P).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

#[test]
fn baked_model_matches_an_independent_newton_fit() {
    let data = examples();
    let patients: Vec<_> = data.iter().map(|e| e.patient).collect();
    let pre = Preprocessor::fit(&patients);
    assert_eq!(pre, MODEL.preprocessor, "imputation and scaling statistics");
    let x: Vec<[f64; P]> = patients
        .iter()
        .map(|p| {
            let mut row = [1.0; P];
            row[..N_ENCODED].copy_from_slice(&pre.encode(p).0);
            row
        })
        .collect();
    let y: Vec<f64> = data
        .iter()
        .map(|e| f64::from(u8::from(e.disease)))
        .collect();
    let beta = newton(&x, &y);

    for (j, (w, r)) in MODEL.weights.iter().zip(&beta).enumerate() {
        assert!((w - r).abs() < 1e-4, "weight {j}: baked {w} vs Newton {r}");
    }
    let mut worst: f64 = 0.0;
    for (row, p) in x.iter().zip(&patients) {
        let z: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
        let reference = 1.0 / (1.0 + (-z).exp());
        worst = worst.max((MODEL.probability(p) - reference).abs());
    }
    assert!(worst < 1e-5, "largest probability difference {worst:e}");
}
