//! The typed `heart:predictor/predictor` export (`wit/predictor.wit`): the same validation,
//! model and explanation as `POST /predict`, for hosts that call the model without HTTP.

use heart_model::schema::{FEATURES, N_FEATURES};
use heart_model::{FieldError, Patient, RiskLevel, MODEL, MODEL_VERSION};
use heart_wire::check_batch_size;

wit_bindgen::generate!({
    path: "wit",
    world: "heart:predictor/predictor-component",
});

use exports::heart::predictor::predictor as wit;

/// The component's implementation of the interface.
pub struct Predictor;

impl wit::Guest for Predictor {
    fn predict(patient: wit::Patient) -> Result<wit::Assessment, wit::ValidationError> {
        Ok(assess(&validate(&patient, "")?))
    }

    fn predict_batch(
        patients: Vec<wit::Patient>,
    ) -> Result<Vec<wit::Assessment>, wit::ValidationError> {
        check_batch_size(patients.len()).map_err(|e| invalid(vec![e]))?;
        let mut valid = Vec::with_capacity(patients.len());
        let mut errors = Vec::new();
        for (i, p) in patients.iter().enumerate() {
            match validate(p, &format!("/instances/{i}")) {
                Ok(p) => valid.push(p),
                Err(e) => errors.extend(e.errors),
            }
        }
        if errors.is_empty() {
            Ok(valid.iter().map(assess).collect())
        } else {
            Err(wit::ValidationError { errors })
        }
    }

    fn model_version() -> String {
        MODEL_VERSION.to_string()
    }
}

#[cfg(target_arch = "wasm32")]
export!(Predictor);

fn validate(p: &wit::Patient, pointer: &str) -> Result<Patient, wit::ValidationError> {
    let values: [Option<f64>; N_FEATURES] = [
        Some(p.age),
        Some(p.sex),
        Some(p.cp),
        Some(p.trestbps),
        Some(p.chol),
        Some(p.fbs),
        Some(p.restecg),
        Some(p.thalach),
        Some(p.exang),
        Some(p.oldpeak),
        p.slope,
        p.ca,
        p.thal,
    ];
    Patient::from_values(values).map_err(|errors| {
        let prefixed = errors
            .into_iter()
            .map(|e| FieldError::new(format!("{pointer}{}", e.field), e.reason))
            .collect();
        invalid(prefixed)
    })
}

fn invalid(errors: Vec<FieldError>) -> wit::ValidationError {
    wit::ValidationError {
        errors: errors
            .into_iter()
            .map(|e| wit::FieldError {
                field: e.field,
                reason: e.reason,
            })
            .collect(),
    }
}

fn assess(p: &Patient) -> wit::Assessment {
    let a = MODEL.assess(p);
    wit::Assessment {
        prediction: a.prediction,
        probability: a.probability,
        risk_level: match a.risk_level {
            RiskLevel::Low => wit::RiskLevel::Low,
            RiskLevel::Moderate => wit::RiskLevel::Moderate,
            RiskLevel::High => wit::RiskLevel::High,
        },
        contributions: FEATURES
            .iter()
            .zip(a.contributions)
            .map(|(f, value)| wit::Contribution {
                feature: f.name.to_string(),
                value,
            })
            .collect(),
        intercept: a.intercept,
        imputed: a.imputed_names().map(str::to_string).collect(),
        model_version: MODEL_VERSION.to_string(),
    }
}
