//! The body of a prediction request: one patient object, or `{"instances": [patient, …]}`.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::baked::{MODEL, MODEL_VERSION};
use crate::model::{Assessment, Versioned};

use crate::patient::{kind, FieldError, Patient};

/// Largest accepted request body. A batch of [`MAX_BATCH`] patients needs about 125 bytes a
/// patient written compactly and up to about 250 pretty-printed, so 64 KiB could not carry
/// it; 256 KiB does, and still bounds what one request can make a server hold.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a server waits for a whole request body, in seconds: 256 KiB in 10 s is
/// 26 KB/s, far below any real link, and a stalled client holds nothing open for long.
pub const BODY_READ_TIMEOUT_SECS: u64 = 10;

/// Most patients in one batch request.
pub const MAX_BATCH: usize = 1000;

/// Most field errors reported for one request; a batch of 1000 empty objects would otherwise
/// produce 10 000 of them.
pub const MAX_ERRORS: usize = 100;

/// A parsed, fully validated prediction request.
#[derive(Debug, Clone, PartialEq)]
pub enum PredictRequest {
    Single(Patient),
    Batch(Vec<Patient>),
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Not JSON at all (HTTP 400): the parser's message with line and column.
    Syntax(String),
    /// JSON, but not a valid request (HTTP 422): every offending field, at most
    /// [`MAX_ERRORS`] of `total`.
    Invalid {
        errors: Vec<FieldError>,
        total: usize,
    },
}

impl RequestError {
    fn invalid(mut errors: Vec<FieldError>) -> Self {
        let total = errors.len();
        errors.truncate(MAX_ERRORS);
        RequestError::Invalid { errors, total }
    }
}

impl PredictRequest {
    /// Parses and validates a request body.
    pub fn from_json_bytes(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
        Self::from_json(&value)
    }

    /// Validates an already parsed body.
    pub fn from_json(value: &Value) -> Result<Self, RequestError> {
        match value {
            Value::Object(object) if object.contains_key("instances") => {
                let mut errors: Vec<FieldError> = object
                    .keys()
                    .filter(|k| *k != "instances")
                    .map(|k| {
                        FieldError::new(
                            format!("/{k}"),
                            "unknown field; a batch has only \"instances\"",
                        )
                    })
                    .collect();
                match batch(&object["instances"]) {
                    Ok(patients) if errors.is_empty() => Ok(PredictRequest::Batch(patients)),
                    Ok(_) => Err(RequestError::invalid(errors)),
                    Err(more) => {
                        errors.extend(more);
                        Err(RequestError::invalid(errors))
                    }
                }
            }
            Value::Object(_) => Patient::from_json(value, "")
                .map(PredictRequest::Single)
                .map_err(RequestError::invalid),
            other => Err(RequestError::invalid(vec![FieldError::new(
                "",
                format!(
                    "must be a patient object or {{\"instances\": [patient, ...]}}, found {}",
                    kind(other)
                ),
            )])),
        }
    }

    /// The body of the `/predict` answer: for one patient its assessment with
    /// `"model_version"` first; for a batch `{"model_version", "predictions": [...]}` in
    /// request order. Uses the baked model.
    pub fn answer_json(&self) -> Vec<u8> {
        let written = match self {
            PredictRequest::Single(p) => serde_json::to_vec(&Versioned {
                model_version: MODEL_VERSION,
                assessment: &MODEL.assess(p),
            }),
            PredictRequest::Batch(ps) => serde_json::to_vec(&BatchAnswer {
                model_version: MODEL_VERSION,
                predictions: ps.iter().map(|p| MODEL.assess(p)).collect(),
            }),
        };
        // Plain structs of numbers and strings always serialise.
        written.unwrap_or_default()
    }

    /// The patients, one for a single request.
    pub fn patients(&self) -> &[Patient] {
        match self {
            PredictRequest::Single(p) => std::slice::from_ref(p),
            PredictRequest::Batch(ps) => ps,
        }
    }
}

/// A batch holds 1 to [`MAX_BATCH`] patients; the error names `/instances`.
pub fn check_batch_size(n: usize) -> Result<(), FieldError> {
    if (1..=MAX_BATCH).contains(&n) {
        Ok(())
    } else {
        Err(FieldError::new(
            "/instances",
            format!("must hold 1 to {MAX_BATCH} patients, found {n}"),
        ))
    }
}

/// A batch's answer: one assessment per patient, in request order.
struct BatchAnswer {
    model_version: &'static str,
    predictions: Vec<Assessment>,
}

impl Serialize for BatchAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("BatchAnswer", 2)?;
        s.serialize_field("model_version", self.model_version)?;
        s.serialize_field("predictions", &self.predictions)?;
        s.end()
    }
}

fn batch(instances: &Value) -> Result<Vec<Patient>, Vec<FieldError>> {
    let Value::Array(items) = instances else {
        return Err(vec![FieldError::new(
            "/instances",
            format!(
                "must be an array of 1 to {MAX_BATCH} patient objects, found {}",
                kind(instances)
            ),
        )]);
    };
    check_batch_size(items.len()).map_err(|e| vec![e])?;
    let mut patients = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match Patient::from_json(item, &format!("/instances/{i}")) {
            Ok(p) => patients.push(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(patients)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT: &str = r#"{"age":63,"sex":1,"cp":1,"trestbps":145,"chol":233,"fbs":1,"restecg":2,"thalach":150,"exang":0,"oldpeak":2.3,"slope":3,"ca":0,"thal":6}"#;

    fn fields(e: RequestError) -> Vec<String> {
        match e {
            RequestError::Invalid { errors, .. } => errors.into_iter().map(|e| e.field).collect(),
            RequestError::Syntax(m) => panic!("syntax error: {m}"),
        }
    }

    #[test]
    fn single_and_batch() {
        assert!(matches!(
            PredictRequest::from_json_bytes(PATIENT.as_bytes()),
            Ok(PredictRequest::Single(_))
        ));
        let body = format!(r#"{{"instances":[{PATIENT},{PATIENT}]}}"#);
        let req = PredictRequest::from_json_bytes(body.as_bytes()).unwrap();
        assert_eq!(req.patients().len(), 2);
    }

    #[test]
    fn syntax_errors_are_told_apart_from_invalid_requests() {
        for bad in ["", "{", "{\"age\": NaN}", "{\"age\": 1e400}", "[1,]"] {
            assert!(
                matches!(
                    PredictRequest::from_json_bytes(bad.as_bytes()),
                    Err(RequestError::Syntax(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            fields(PredictRequest::from_json_bytes(b"42").unwrap_err()),
            [""]
        );
        assert_eq!(
            fields(PredictRequest::from_json_bytes(b"{\"instances\": {}}").unwrap_err()),
            ["/instances"]
        );
        assert_eq!(
            fields(PredictRequest::from_json_bytes(b"{\"instances\": []}").unwrap_err()),
            ["/instances"]
        );
    }

    #[test]
    fn batch_limits_and_paths() {
        let over = format!(
            r#"{{"instances":[{}]}}"#,
            vec![PATIENT; MAX_BATCH + 1].join(",")
        );
        assert_eq!(
            fields(PredictRequest::from_json_bytes(over.as_bytes()).unwrap_err()),
            ["/instances"]
        );
        let full = format!(
            r#"{{"instances":[{}]}}"#,
            vec![PATIENT; MAX_BATCH].join(",")
        );
        assert_eq!(
            PredictRequest::from_json_bytes(full.as_bytes())
                .unwrap()
                .patients()
                .len(),
            MAX_BATCH
        );

        let body = format!(r#"{{"instances":[{PATIENT},{{"age":"old"}}],"extra":1}}"#);
        let f = fields(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err());
        assert_eq!(f[0], "/extra");
        assert!(
            f.contains(&"/instances/1/age".to_string())
                && f.contains(&"/instances/1/sex".to_string())
        );
    }

    #[test]
    fn errors_are_capped_but_counted() {
        let body = format!(r#"{{"instances":[{}]}}"#, vec!["{}"; 50].join(","));
        match PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err() {
            RequestError::Invalid { errors, total } => {
                assert_eq!(errors.len(), MAX_ERRORS);
                assert_eq!(total, 50 * 10);
            }
            other => panic!("{other:?}"),
        }
    }
}
