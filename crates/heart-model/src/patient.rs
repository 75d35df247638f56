//! A patient record and its validation against the feature table.
//!
//! Validation collects every problem at once, so a caller fixes a request in one round trip
//! instead of one field at a time.

use crate::schema::{FEATURES, N_FEATURES};

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
                feature
                    .check(value)
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

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [f64; N_FEATURES] = crate::schema::EXAMPLE;

    #[test]
    fn from_values_rejects_non_finite_and_missing_required() {
        let mut values = [Some(1.0); N_FEATURES];
        assert!(Patient::from_values(values).is_err());
        values = VALID.map(Some);
        assert!(Patient::from_values(values).is_ok());
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
