//! The body of a prediction request: one patient object, or `{"instances": [patient, …]}`.

use std::borrow::Cow;

use heart_model::schema::{feature_index, FEATURES};
use heart_model::{Assessment, FieldError, LogisticModel, Patient};

use crate::answer::{write_assessment, NumberTexts};
use crate::json::{self, Key, Kind, Reader};
use crate::limits::{MAX_BATCH, MAX_ERRORS};
use crate::members::{escape_pointer, sorted_counts, Raw, RawPatient, REPEATED_KEY};

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
    /// Parses and validates a request body in one pass over the bytes: members are read
    /// straight into their feature's slot, without building a JSON tree first (which cost
    /// more than everything else on the request path together).
    pub fn from_json_bytes(body: &[u8]) -> Result<Self, RequestError> {
        let syntax = |e: json::SyntaxError| RequestError::Syntax(e.to_string());
        let mut r = Reader::new(body);
        let found = r.peek_kind().map_err(syntax)?;
        if found != Kind::Object {
            r.skip().and_then(|()| r.end()).map_err(syntax)?;
            return Err(RequestError::invalid(vec![FieldError::new(
                "",
                format!(
                    "must be a patient object or {{\"instances\": [patient, ...]}}, found {}",
                    found.words()
                ),
            )]));
        }
        let mut members = RawPatient::default();
        let instances = read_members(&mut r, &mut members, true).map_err(syntax)?;
        r.end().map_err(syntax)?;
        match instances {
            None => members
                .validate(String::new)
                .map(PredictRequest::Single)
                .map_err(RequestError::invalid),
            Some(instances) => validate_batch(members, instances),
        }
    }

    /// The body of the `/predict` answer by `model` (of version `model_version`): for one
    /// patient its assessment with `"model_version"` first; for a batch
    /// `{"model_version", "predictions": [...]}` in request order.
    pub fn answer_json(&self, model: &LogisticModel, model_version: &str) -> Vec<u8> {
        let patients = self.patients();
        // About 480 bytes an assessment: one allocation for the whole answer.
        let mut out = Vec::with_capacity(64 + 512 * patients.len());
        let mut texts = NumberTexts::default();
        match self {
            PredictRequest::Single(p) => {
                write_assessment(&model.assess(p), &mut out, Some(model_version), &mut texts)
            }
            PredictRequest::Batch(ps) => {
                out.extend_from_slice(b"{\"model_version\":");
                crate::answer::write_str(&mut out, model_version);
                out.extend_from_slice(b",\"predictions\":[");
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_assessment(&model.assess(p), &mut out, None, &mut texts);
                }
                out.extend_from_slice(b"]}");
            }
        }
        out
    }

    /// Every patient's assessment by `model`, in request order.
    pub fn assessments(&self, model: &LogisticModel) -> Vec<Assessment> {
        self.patients().iter().map(|p| model.assess(p)).collect()
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

/// The value of `"instances"`: an array of patients, validated as it is read, or any other
/// JSON value, or more than one value (the key was repeated).
enum Instances {
    Array {
        patients: Vec<Patient>,
        errors: Vec<FieldError>,
        len: usize,
    },
    Other(&'static str),
    Repeated,
}

/// A batch: every top-level key but `"instances"` is an error (and a repeated one is also
/// said to be), then the size, then the items. A repeated `"instances"` is an error alone:
/// which of its values was meant is unknown, so no item is checked.
fn validate_batch(
    mut members: RawPatient,
    instances: Instances,
) -> Result<PredictRequest, RequestError> {
    let mut keys: Vec<String> = features_present(&members)
        .flat_map(|(i, name)| {
            let times = if members.repeated & (1 << i) != 0 {
                2
            } else {
                1
            };
            std::iter::repeat_n(name.to_string(), times)
        })
        .collect();
    keys.append(&mut members.unknown);
    let mut errors = Vec::new();
    for (key, count) in sorted_counts(&mut keys) {
        let field = || format!("/{}", escape_pointer(key));
        errors.push(FieldError::new(
            field(),
            "unknown field; a batch has only \"instances\"",
        ));
        if count > 1 {
            errors.push(FieldError::new(field(), REPEATED_KEY));
        }
    }
    match instances {
        Instances::Repeated => errors.push(FieldError::new("/instances", REPEATED_KEY)),
        Instances::Array { len, .. } if check_batch_size(len).is_err() => {
            errors.extend(check_batch_size(len).err());
        }
        Instances::Array {
            patients,
            errors: invalid,
            ..
        } => {
            if errors.is_empty() && invalid.is_empty() {
                return Ok(PredictRequest::Batch(patients));
            }
            errors.extend(invalid);
        }
        Instances::Other(found) => errors.push(FieldError::new(
            "/instances",
            format!("must be an array of 1 to {MAX_BATCH} patient objects, found {found}"),
        )),
    }
    Err(RequestError::invalid(errors))
}

/// Index and name of the features a set of members holds (any value, `null` included).
fn features_present(members: &RawPatient) -> impl Iterator<Item = (usize, &'static str)> + '_ {
    FEATURES
        .iter()
        .zip(&members.values)
        .enumerate()
        .filter(|(_, (_, raw))| **raw != Raw::Absent)
        .map(|(i, (f, _))| (i, f.name))
}

// ---------------------------------------------------------------------------------------
// Reading: the body is walked once with the JSON reader; a wrong kind of value is recorded
// where it stands (and reported with every other problem), only broken JSON stops the walk.
// ---------------------------------------------------------------------------------------

/// Reads an object's members into a [`RawPatient`]; at the top of the body (`batch_key`)
/// `"instances"` is read as a batch instead of being an unknown key.
fn read_members(
    r: &mut Reader,
    members: &mut RawPatient,
    batch_key: bool,
) -> json::Result<Option<Instances>> {
    let mut instances = None;
    let mut object = r.object()?;
    // The feature after the last one read: the likeliest next key.
    let mut next = 0;
    loop {
        let guess = FEATURES.get(next).map(|f| f.name);
        let Some(key) = object.next_key_guessing(r, guess)? else {
            break;
        };
        let name = match key {
            Key::Guessed(_) => None,
            Key::Other(name) => Some(name),
        };
        match name.as_deref().map_or(Some(next), feature_index) {
            Some(i) => {
                members.saw(i);
                members.values[i] = read_feature(r)?;
                next = i + 1;
            }
            None if batch_key && name.as_deref() == Some("instances") => {
                let value = read_instances(r)?;
                instances = Some(match instances {
                    None => value,
                    Some(_) => Instances::Repeated,
                });
            }
            None => {
                r.skip()?;
                members.unknown.extend(name.map(Cow::into_owned));
            }
        }
    }
    Ok(instances)
}

fn read_feature(r: &mut Reader) -> json::Result<Raw> {
    Ok(match r.peek_kind()? {
        Kind::Number => Raw::Number(r.number()?),
        Kind::Null => {
            r.skip()?;
            Raw::Null
        }
        other => {
            r.skip()?;
            Raw::Other(other.words())
        }
    })
}

/// Reads `"instances"`, validating each item where it stands. Past [`MAX_BATCH`] the batch is
/// refused whatever its items hold, so the rest are only checked as JSON and counted.
fn read_instances(r: &mut Reader) -> json::Result<Instances> {
    let found = r.peek_kind()?;
    if found != Kind::Array {
        r.skip()?;
        return Ok(Instances::Other(found.words()));
    }
    // Room for as many patients as the rest of the body could hold (one takes 100-odd bytes).
    let mut patients = Vec::with_capacity((r.remaining() / 64).min(MAX_BATCH));
    let mut errors = Vec::new();
    let mut len = 0;
    let mut items = r.array()?;
    while items.next(r)? {
        if len < MAX_BATCH {
            match read_item(r, len)? {
                Ok(patient) => patients.push(patient),
                Err(invalid) => errors.extend(invalid),
            }
        } else {
            r.skip()?;
        }
        len += 1;
    }
    Ok(Instances::Array {
        patients,
        errors,
        len,
    })
}

/// Element `index` of `"instances"`: a patient object, validated.
fn read_item(r: &mut Reader, index: usize) -> json::Result<Result<Patient, Vec<FieldError>>> {
    let pointer = || format!("/instances/{index}");
    match r.peek_kind()? {
        Kind::Object => {
            let mut members = RawPatient::default();
            read_members(r, &mut members, false)?;
            Ok(members.validate(pointer))
        }
        other => {
            r.skip()?;
            Ok(Err(vec![FieldError::new(
                pointer(),
                format!(
                    "must be a JSON object with the patient's features, found {}",
                    other.words()
                ),
            )]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: RequestError) -> Vec<String> {
        match e {
            RequestError::Invalid { errors, .. } => errors.into_iter().map(|e| e.field).collect(),
            RequestError::Syntax(m) => panic!("syntax error: {m}"),
        }
    }

    /// The patient with `edits` applied: `(key, Some(json))` sets a member, `(key, None)`
    /// removes it.
    fn edited(edits: &[(&str, Option<&str>)]) -> String {
        let patient = crate::example::patient_json();
        let mut members: Vec<(String, String)> = patient[1..patient.len() - 1]
            .split(',')
            .map(|m| {
                let (k, v) = m.split_once(':').unwrap();
                (k.trim_matches('"').to_string(), v.to_string())
            })
            .collect();
        for (key, value) in edits {
            members.retain(|(k, _)| k != key);
            if let Some(v) = value {
                members.push((key.to_string(), v.to_string()));
            }
        }
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", inner.join(","))
    }

    fn single(body: &str) -> Result<Patient, RequestError> {
        match PredictRequest::from_json_bytes(body.as_bytes())? {
            PredictRequest::Single(p) => Ok(p),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_a_valid_patient_in_feature_order() {
        let patient = crate::example::patient_json();
        let p = single(&patient).unwrap();
        assert_eq!(p.get(0), Some(63.0));
        assert_eq!(p.get(9), Some(2.3));
        assert_eq!(p.get(12), Some(6.0));
        // Member order does not matter.
        let p2 = single(&edited(&[("age", None), ("age", Some("63"))])).unwrap();
        assert_eq!(p, p2);
    }

    #[test]
    fn optional_fields_may_be_absent_or_null_required_may_not() {
        let patient = crate::example::patient_json();
        let p = single(&edited(&[("slope", None), ("ca", Some("null"))])).unwrap();
        assert_eq!((p.get(10), p.get(11)), (None, None));

        let body = format!(
            r#"{{"instances":[{patient},{patient},{}]}}"#,
            edited(&[("age", Some("null"))])
        );
        match PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err() {
            RequestError::Invalid { errors, total } => {
                assert_eq!(total, 1);
                assert_eq!(errors[0].field, "/instances/2/age");
                assert!(
                    errors[0].reason.contains("required"),
                    "{}",
                    errors[0].reason
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_field_is_reported_and_wrong_kinds_are_named() {
        let body = edited(&[
            ("cp", Some("5")),
            ("chol", Some(r#""233""#)),
            ("ca", Some("1.5")),
            ("bmi", Some("22")),
            ("thal", Some(r#"{"a":[1,{"b":null}]}"#)),
            ("fbs", Some("[true]")),
            ("sex", None),
        ]);
        let e = single(&body).unwrap_err();
        let RequestError::Invalid { errors, .. } = e else {
            panic!("{e:?}")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["/bmi", "/sex", "/cp", "/chol", "/fbs", "/ca", "/thal"]
        );
        assert!(
            errors[3].reason.contains("found a string"),
            "{}",
            errors[3].reason
        );
        assert!(
            errors[4].reason.contains("found an array"),
            "{}",
            errors[4].reason
        );
        assert!(
            errors[6].reason.contains("found an object"),
            "{}",
            errors[6].reason
        );
    }

    /// Every error as (field, said to be repeated).
    fn repeated(e: RequestError) -> Vec<(String, bool)> {
        match e {
            RequestError::Invalid { errors, .. } => errors
                .into_iter()
                .map(|e| (e.field, e.reason == REPEATED_KEY))
                .collect(),
            RequestError::Syntax(m) => panic!("syntax error: {m}"),
        }
    }

    fn owned(errors: &[(&str, bool)]) -> Vec<(String, bool)> {
        errors.iter().map(|(f, r)| (f.to_string(), *r)).collect()
    }

    #[test]
    fn a_repeated_member_is_refused_and_named() {
        let patient = crate::example::patient_json();
        // Even with the same value twice, and when the last value would be valid.
        for first in ["63", "\"x\"", "null"] {
            let body = format!(r#"{{"age":{first},{}"#, &patient[1..]);
            assert_eq!(
                repeated(single(&body).unwrap_err()),
                owned(&[("/age", true)]),
                "{body}"
            );
        }
        // Written differently, the same name.
        let body = format!(r#"{{"\u0061ge":63,{}"#, &patient[1..]);
        assert_eq!(
            repeated(single(&body).unwrap_err()),
            owned(&[("/age", true)])
        );
        // An unknown key given twice is unknown and repeated; other errors are still listed.
        let body = format!(r#"{{"zz":1,"zz":2,"cp":9,{}"#, &patient[1..]);
        assert_eq!(
            repeated(single(&body).unwrap_err()),
            owned(&[("/zz", false), ("/zz", true), ("/cp", true)])
        );
        let body = edited(&[("cp", Some("9"))]).replacen('{', r#"{"zz":1,"zz":2,"#, 1);
        assert_eq!(
            repeated(single(&body).unwrap_err()),
            owned(&[("/zz", false), ("/zz", true), ("/cp", false)])
        );
    }

    #[test]
    fn a_repeated_member_in_a_batch_is_named_with_its_item() {
        let patient = crate::example::patient_json();
        let twice = format!(r#"{{"sex":0,{}"#, &patient[1..]);
        let body = format!(r#"{{"instances":[{patient},{patient},{patient},{twice}]}}"#);
        assert_eq!(
            repeated(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err()),
            owned(&[("/instances/3/sex", true)])
        );
    }

    #[test]
    fn a_repeated_key_in_the_batch_wrapper_is_refused_and_named() {
        let patient = crate::example::patient_json();
        let body = format!(r#"{{"instances":[{patient}],"instances":[{patient}]}}"#);
        assert_eq!(
            repeated(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err()),
            owned(&[("/instances", true)])
        );
        // The items of a repeated "instances" are not checked: which list counts is unknown.
        let body = format!(r#"{{"instances":[{{}}],"instances":5,"instances":[{patient}]}}"#);
        assert_eq!(
            repeated(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err()),
            owned(&[("/instances", true)])
        );
        // Other keys of the wrapper: unknown, and repeated when they are.
        let body = format!(r#"{{"age":1,"instances":[{patient}],"age":2,"x":3}}"#);
        assert_eq!(
            repeated(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err()),
            owned(&[("/age", false), ("/age", true), ("/x", false)])
        );
        // Broken JSON is still a syntax error first.
        let body = format!(r#"{{"instances":[{patient}],"instances":[}}"#);
        assert!(matches!(
            PredictRequest::from_json_bytes(body.as_bytes()),
            Err(RequestError::Syntax(_))
        ));
    }

    #[test]
    fn non_objects_and_odd_keys_are_named() {
        let patient = crate::example::patient_json();
        let body = format!(r#"{{"instances":[[1,2],{patient},"p"]}}"#);
        let e = PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err();
        let RequestError::Invalid { errors, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(errors[0].field, "/instances/0");
        assert!(errors[0].reason.contains("an array"));
        assert_eq!(errors[1].field, "/instances/2");
        assert!(errors[1].reason.contains("a string"));
        let body = edited(&[("a/b~", Some("1"))]);
        assert_eq!(fields(single(&body).unwrap_err()), ["/a~1b~0"]);
        let body = format!(
            r#"{{"instances":[{}]}}"#,
            edited(&[("instances", Some("[]"))])
        );
        assert_eq!(
            fields(PredictRequest::from_json_bytes(body.as_bytes()).unwrap_err()),
            ["/instances/0/instances"]
        );
    }

    #[test]
    fn single_and_batch() {
        let patient = crate::example::patient_json();
        assert!(matches!(
            PredictRequest::from_json_bytes(patient.as_bytes()),
            Ok(PredictRequest::Single(_))
        ));
        let body = format!(r#"{{"instances":[{patient},{patient}]}}"#);
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
        let patient = crate::example::patient_json();
        let over = format!(
            r#"{{"instances":[{}]}}"#,
            vec![patient.as_str(); MAX_BATCH + 1].join(",")
        );
        assert_eq!(
            fields(PredictRequest::from_json_bytes(over.as_bytes()).unwrap_err()),
            ["/instances"]
        );
        let full = format!(
            r#"{{"instances":[{}]}}"#,
            vec![patient.as_str(); MAX_BATCH].join(",")
        );
        assert_eq!(
            PredictRequest::from_json_bytes(full.as_bytes())
                .unwrap()
                .patients()
                .len(),
            MAX_BATCH
        );

        let body = format!(r#"{{"instances":[{patient},{{"age":"old"}}],"extra":1}}"#);
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
