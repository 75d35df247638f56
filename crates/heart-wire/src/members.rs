//! A JSON object's members read as a patient, before validation: what [`crate::predict`]
//! collects while it walks a request body, and the checks that turn it into a [`Patient`]
//! with every problem named by its JSON Pointer.

use heart_model::schema::{FEATURES, N_FEATURES};
use heart_model::{FieldError, Patient};

/// What a request held for one feature, before validation: read straight from the JSON text
/// ([`crate::json`]; no JSON tree is built), checked by [`RawPatient::validate`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Raw {
    /// The key did not appear.
    #[default]
    Absent,
    Null,
    Number(f64),
    /// Any other JSON value; its kind in words ([`crate::json::Kind::words`]).
    Other(&'static str),
}

/// A JSON object's members as a patient: one [`Raw`] per feature, the keys that are not
/// features (each as often as it appeared), and which features appeared more than once.
///
/// A key given twice is refused, not read as the last value given: RFC 8259 leaves duplicate
/// names to the parser, and parsers disagree (serde_json and Python keep the last value,
/// others the first or both), so a body with one is ambiguous about the patient it describes.
#[derive(Debug, Clone, Default)]
pub struct RawPatient {
    pub values: [Raw; N_FEATURES],
    pub unknown: Vec<String>,
    /// Bit `i`: feature `i` was given.
    pub seen: u16,
    /// Bit `i`: feature `i` was given more than once.
    pub repeated: u16,
}

/// The reason given for a key that appears more than once in one object.
pub const REPEATED_KEY: &str =
    "appears more than once in the same object; give each field once (parsers disagree on which value counts)";

impl RawPatient {
    /// Records that feature `i` was given (again, if it already was).
    #[inline]
    pub fn saw(&mut self, i: usize) {
        let bit = 1 << i;
        self.repeated |= self.seen & bit;
        self.seen |= bit;
    }

    /// Checks every member; `pointer` gives where the object sits in the request body (`""`
    /// for the body itself) and prefixes every error's field. Unknown keys are reported
    /// first, in sorted order (a repeated one also as repeated), then the features in table
    /// order (a repeated one only as repeated: which of its values was meant is unknown).
    pub fn validate(&mut self, pointer: impl Fn() -> String) -> Result<Patient, Vec<FieldError>> {
        let wire_errors = !self.unknown.is_empty()
            || self.repeated != 0
            || self.values.iter().any(|raw| matches!(raw, Raw::Other(_)));
        if wire_errors {
            return Err(self.errors(pointer));
        }
        // Only the feature table's own rules apply, which `Patient::from_values` checks in
        // one pass (absent and `null` are both a missing value).
        let values = self.values.map(|raw| match raw {
            Raw::Number(x) => Some(x),
            _ => None,
        });
        Patient::from_values(values).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| FieldError::new(format!("{}{}", pointer(), e.field), e.reason))
                .collect()
        })
    }

    /// Every problem of members with a wire error among them (an unknown or repeated key, a
    /// value that is not a number), in [`RawPatient::validate`]'s order; the features without
    /// one get the reasons `Patient::from_values` gives.
    fn errors(&mut self, pointer: impl Fn() -> String) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        let unknown = format!("unknown field; the features are {}", names.join(", "));
        for (key, count) in sorted_counts(&mut self.unknown) {
            let field = || format!("{}/{}", pointer(), escape_pointer(key));
            errors.push(FieldError::new(field(), unknown.as_str()));
            if count > 1 {
                errors.push(FieldError::new(field(), REPEATED_KEY));
            }
        }
        for (i, (feature, raw)) in FEATURES.iter().zip(self.values).enumerate() {
            let reason = if self.repeated & (1 << i) != 0 {
                Some(REPEATED_KEY.to_string())
            } else {
                match raw {
                    Raw::Absent | Raw::Null => feature.check(None).err(),
                    Raw::Number(x) => feature.check(Some(x)).err(),
                    Raw::Other(found) => Some(format!(
                        "must be a number, found {found}; it {}",
                        feature.rule()
                    )),
                }
            };
            if let Some(reason) = reason {
                errors.push(FieldError::new(
                    format!("{}/{}", pointer(), feature.name),
                    reason,
                ));
            }
        }
        errors
    }
}

/// Sorts `keys` and gives each distinct key once, with how many times it appeared.
pub fn sorted_counts(keys: &mut [String]) -> impl Iterator<Item = (&str, usize)> {
    keys.sort_unstable();
    keys.chunk_by(|a, b| a == b)
        .map(|same| (same[0].as_str(), same.len()))
}

/// Escapes a key for a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [f64; N_FEATURES] = heart_model::schema::EXAMPLE;

    #[test]
    fn raw_members_report_unknown_keys_first_sorted_and_repeated_keys_as_such() {
        let mut raw = RawPatient {
            values: VALID.map(Raw::Number),
            unknown: vec!["b".into(), "a/b~".into(), "b".into()],
            ..RawPatient::default()
        };
        raw.values[1] = Raw::Other("a string");
        raw.saw(4);
        raw.saw(4);
        raw.saw(5);
        assert_eq!((raw.seen, raw.repeated), (0b110000, 0b10000));
        let errors = raw.validate(|| "/instances/4".to_string()).unwrap_err();
        let fields: Vec<(&str, bool)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.reason == REPEATED_KEY))
            .collect();
        assert_eq!(
            fields,
            [
                ("/instances/4/a~1b~0", false),
                ("/instances/4/b", false),
                ("/instances/4/b", true),
                ("/instances/4/sex", false),
                ("/instances/4/chol", true),
            ]
        );
        assert!(REPEATED_KEY.contains("more than once"));
    }
}
