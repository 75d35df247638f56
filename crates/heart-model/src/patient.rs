//! A patient record and its validation against the feature table.
//!
//! Validation collects every problem at once, so a caller fixes a request in one round trip
//! instead of one field at a time.

use serde_json::{Map, Value};

use crate::schema::{feature_index, FEATURES, N_FEATURES};

/// One patient's 13 features, validated: every value lies in its feature's domain.
/// A value is `None` only for an optional feature (`slope`, `ca`, `thal`) that was absent or
/// `null`; the model imputes those.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patient {
    values: [Option<f64>; N_FEATURES],
}

/// Why one field of a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where the field is, as a JSON Pointer (RFC 6901), e.g. `/instances/3/age`; empty for the
    /// body as a whole.
    pub field: String,
    /// What is wrong and what is accepted instead.
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Patient {
    /// Checks raw values in feature order (the trainer's path from the data file).
    pub fn from_values(values: [Option<f64>; N_FEATURES]) -> Result<Self, Vec<FieldError>> {
        let errors: Vec<FieldError> = FEATURES
            .iter()
            .zip(values)
            .filter_map(|(feature, value)| {
                check_value(feature, value)
                    .err()
                    .map(|reason| FieldError::new(format!("/{}", feature.name), reason))
            })
            .collect();
        if errors.is_empty() {
            Ok(Patient { values })
        } else {
            Err(errors)
        }
    }

    /// Reads a patient from a JSON value; `pointer` is where that value sits in the request
    /// body (`""` for the body itself) and prefixes every error's field.
    pub fn from_json(value: &Value, pointer: &str) -> Result<Self, Vec<FieldError>> {
        let Value::Object(object) = value else {
            return Err(vec![FieldError::new(
                pointer,
                format!(
                    "must be a JSON object with the patient's features, found {}",
                    kind(value)
                ),
            )]);
        };
        from_object(object, pointer)
    }

    /// The value of feature `i` (index into [`FEATURES`]), `None` when it is to be imputed.
    pub fn get(&self, i: usize) -> Option<f64> {
        self.values[i]
    }

    /// All values in feature order.
    pub fn values(&self) -> &[Option<f64>; N_FEATURES] {
        &self.values
    }

    /// The same patient with feature `i` set to `value`, checked like any other input.
    pub fn with(&self, i: usize, value: Option<f64>) -> Result<Self, Vec<FieldError>> {
        let mut values = self.values;
        values[i] = value;
        Patient::from_values(values)
    }
}

fn from_object(object: &Map<String, Value>, pointer: &str) -> Result<Patient, Vec<FieldError>> {
    let mut errors = Vec::new();
    for key in object.keys() {
        if feature_index(key).is_none() {
            errors.push(FieldError::new(
                format!("{pointer}/{}", escape_pointer(key)),
                "unknown field; the features are age, sex, cp, trestbps, chol, fbs, restecg, thalach, exang, oldpeak, slope, ca, thal",
            ));
        }
    }
    let mut values = [None; N_FEATURES];
    for (slot, feature) in values.iter_mut().zip(FEATURES.iter()) {
        let field = || format!("{pointer}/{}", feature.name);
        let raw = match object.get(feature.name) {
            None | Some(Value::Null) if !feature.required => continue,
            None | Some(Value::Null) => {
                errors.push(FieldError::new(
                    field(),
                    format!("is required and {}", feature.rule()),
                ));
                continue;
            }
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                errors.push(FieldError::new(
                    field(),
                    format!(
                        "must be a number, found {}; it {}",
                        kind(other),
                        feature.rule()
                    ),
                ));
                continue;
            }
        };
        match check_value(feature, raw) {
            Ok(()) => *slot = raw,
            Err(reason) => errors.push(FieldError::new(field(), reason)),
        }
    }
    if errors.is_empty() {
        Ok(Patient { values })
    } else {
        Err(errors)
    }
}

fn check_value(feature: &crate::schema::Feature, value: Option<f64>) -> Result<(), String> {
    match value {
        None if feature.required => Err(format!("is required and {}", feature.rule())),
        None => Ok(()),
        Some(x) if !x.is_finite() => Err(format!("must be a finite number; it {}", feature.rule())),
        Some(x) if feature.accepts(x) => Ok(()),
        Some(x) => Err(format!("{} (got {x})", feature.rule())),
    }
}

/// A JSON value's kind in words, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Escapes a key for a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"age": 63, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "fbs": 1,
               "restecg": 2, "thalach": 150, "exang": 0, "oldpeak": 2.3,
               "slope": 3, "ca": 0, "thal": 6})
    }

    #[test]
    fn reads_a_valid_patient_in_feature_order() {
        let p = Patient::from_json(&valid(), "").unwrap();
        assert_eq!(p.get(0), Some(63.0));
        assert_eq!(p.get(9), Some(2.3));
        assert_eq!(p.get(12), Some(6.0));
    }

    #[test]
    fn optional_fields_may_be_absent_or_null_required_may_not() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("slope");
        v["ca"] = Value::Null;
        let p = Patient::from_json(&v, "").unwrap();
        assert_eq!((p.get(10), p.get(11)), (None, None));

        v["age"] = Value::Null;
        let errors = Patient::from_json(&v, "/instances/2").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "/instances/2/age");
        assert!(
            errors[0].reason.contains("required"),
            "{}",
            errors[0].reason
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut v = valid();
        v["cp"] = json!(5);
        v["chol"] = json!("233");
        v["ca"] = json!(1.5);
        v["bmi"] = json!(22);
        v.as_object_mut().unwrap().remove("sex");
        let mut fields: Vec<String> = Patient::from_json(&v, "")
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(fields, ["/bmi", "/ca", "/chol", "/cp", "/sex"]);
    }

    #[test]
    fn non_objects_and_odd_keys_are_named() {
        let errors = Patient::from_json(&json!([1, 2]), "/instances/0").unwrap_err();
        assert_eq!(errors[0].field, "/instances/0");
        assert!(errors[0].reason.contains("an array"));
        let mut v = valid();
        v["a/b~"] = json!(1);
        assert_eq!(Patient::from_json(&v, "").unwrap_err()[0].field, "/a~1b~0");
    }

    #[test]
    fn from_values_rejects_non_finite_and_missing_required() {
        let mut values = [Some(1.0); N_FEATURES];
        assert!(Patient::from_values(values).is_err());
        let p = Patient::from_json(&valid(), "").unwrap();
        values = *p.values();
        values[3] = Some(f64::INFINITY);
        values[0] = None;
        let fields: Vec<String> = Patient::from_values(values)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["/age", "/trestbps"]);
    }
}
