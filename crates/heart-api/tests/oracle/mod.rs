//! Independent references for the service's tests (tests/properties.rs, tests/regressions.rs
//! and the fuzz target, which includes this file through `#[path]`): what `POST /predict` must
//! answer for a body, decided by serde_json's reading of it and by the feature table's domains
//! read here, never by the service's own reader (`heart_wire`) or validation.

#![allow(dead_code)] // each user takes its own part

use heart_model::model::{sigmoid, DECISION_THRESHOLD, HIGH_RISK_FROM, MODERATE_RISK_FROM};
use heart_model::schema::{Domain, Feature, FEATURES, N_FEATURES};
use heart_model::{Assessment, Patient, MODEL, MODEL_VERSION};
use serde_json::Value;

/// A JSON text with every member kept, repeated names included (serde_json's `Value` keeps
/// only the last one), and numbers as serde_json reads them.
enum Node {
    Null,
    Number(f64),
    /// A boolean or a string: never a valid feature value.
    Other,
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Other)
            }
            fn visit_i64<E>(self, x: i64) -> Result<Node, E> {
                Ok(Node::Number(x as f64))
            }
            fn visit_u64<E>(self, x: u64) -> Result<Node, E> {
                Ok(Node::Number(x as f64))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Node, E> {
                Ok(Node::Number(x))
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Other)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Node>()? {
                    members.push(member);
                }
                Ok(Node::Object(members))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A key as a JSON Pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// An object's distinct keys in sorted order, with how many times each appears.
fn counts(members: &[(String, Node)]) -> Vec<(&str, usize)> {
    let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names
        .chunk_by(|a, b| a == b)
        .map(|same| (same[0], same.len()))
        .collect()
}

/// The value of `"instances"` in a top-level object, when it is there exactly once.
fn instances(members: &[(String, Node)]) -> Vec<&Node> {
    members
        .iter()
        .filter(|(k, _)| k == "instances")
        .map(|(_, v)| v)
        .collect()
}

/// The oracle's rule for repeated keys in a `POST /predict` body, read by serde_json (not by
/// the component's own reader): the JSON Pointers of the keys that appear more than once in a
/// patient object or in the batch wrapper. Those are the body's top-level object and, when it
/// holds `"instances"` once with an array of 1 to `max_batch` items, each object item
/// (`/instances/3/age`); a repeated `"instances"` is itself the one named there, its items
/// unread. Keys repeated deeper (inside a value that is not a patient) are not named: such a
/// value is refused for what it is. `None` when serde_json refuses the body.
pub fn repeated_keys(body: &[u8], max_batch: usize) -> Option<Vec<String>> {
    fn repeated_in(members: &[(String, Node)], prefix: &str, out: &mut Vec<String>) {
        for (key, _) in counts(members).into_iter().filter(|(_, n)| *n > 1) {
            out.push(format!("{prefix}/{}", escape(key)));
        }
    }
    let node: Node = serde_json::from_slice(body).ok()?;
    let mut out = Vec::new();
    if let Node::Object(members) = &node {
        repeated_in(members, "", &mut out);
        if let [Node::Array(items)] = instances(members).as_slice() {
            if (1..=max_batch).contains(&items.len()) {
                for (i, item) in items.iter().enumerate() {
                    if let Node::Object(members) = item {
                        repeated_in(members, &format!("/instances/{i}"), &mut out);
                    }
                }
            }
        }
    }
    Some(out)
}

/// What `POST /predict` (with a JSON content type) must answer for a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// serde_json refuses the body: 400.
    Syntax,
    /// JSON, but not a valid request: 422, naming these fields (JSON Pointers, a field twice
    /// when it is both unknown and repeated), in no particular order; the answer lists the
    /// first `MAX_ERRORS` of them.
    Invalid(Vec<String>),
    /// A valid request: 200 with each patient's assessment, in order; `batch` when the body
    /// was `{"instances": [...]}`. Values in feature order, `None` for a missing optional one.
    Valid {
        batch: bool,
        patients: Vec<[Option<f64>; N_FEATURES]>,
    },
}

/// Whether `x` lies in the feature's domain, as the feature table states it: between the
/// bounds (a whole number where it must be), or one of the levels.
fn in_domain(feature: &Feature, x: f64) -> bool {
    match feature.domain {
        Domain::Range { min, max, integer } => min <= x && x <= max && (!integer || x == x.trunc()),
        Domain::Levels(levels) => levels.contains(&x),
    }
}

/// One patient object: its values, or the fields at fault (under `prefix`). A key that is no
/// feature is named (twice if repeated); a feature given more than once is named once; a
/// feature's single value must be a number in its domain, or `null` or absent when optional.
fn patient(
    members: &[(String, Node)],
    prefix: &str,
) -> Result<[Option<f64>; N_FEATURES], Vec<String>> {
    let mut errors = Vec::new();
    for (key, n) in counts(members) {
        if !FEATURES.iter().any(|f| f.name == key) {
            errors.extend(std::iter::repeat_n(
                format!("{prefix}/{}", escape(key)),
                n.min(2),
            ));
        }
    }
    let mut values = [None; N_FEATURES];
    for (value, f) in values.iter_mut().zip(&FEATURES) {
        let given: Vec<&Node> = members
            .iter()
            .filter(|(k, _)| k == f.name)
            .map(|(_, v)| v)
            .collect();
        let ok = match given.as_slice() {
            [] | [Node::Null] => !f.required,
            [Node::Number(x)] => {
                *value = Some(*x);
                in_domain(f, *x)
            }
            _ => false, // repeated, or not a number
        };
        if !ok {
            errors.push(format!("{prefix}/{}", f.name));
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// The verdict on a `POST /predict` body, from serde_json's reading and the feature table: a
/// patient object, or `{"instances": [...]}` with 1 to `max_batch` patient objects and no
/// other member (each other key named, twice if repeated; a repeated `"instances"` named
/// alone, its items unread; a batch of the wrong size or kind named as `/instances`; a body
/// that is no object named as `""`).
pub fn verdict(body: &[u8], max_batch: usize) -> Verdict {
    let Ok(node) = serde_json::from_slice::<Node>(body) else {
        return Verdict::Syntax;
    };
    let Node::Object(members) = node else {
        return Verdict::Invalid(vec![String::new()]);
    };
    let batch = instances(&members);
    if batch.is_empty() {
        return match patient(&members, "") {
            Ok(values) => Verdict::Valid {
                batch: false,
                patients: vec![values],
            },
            Err(errors) => Verdict::Invalid(errors),
        };
    }
    let mut errors = Vec::new();
    for (key, n) in counts(&members)
        .into_iter()
        .filter(|(k, _)| *k != "instances")
    {
        errors.extend(std::iter::repeat_n(format!("/{}", escape(key)), n.min(2)));
    }
    let mut patients = Vec::new();
    match batch.as_slice() {
        [Node::Array(items)] if (1..=max_batch).contains(&items.len()) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("/instances/{i}");
                match item {
                    Node::Object(members) => match patient(members, &at) {
                        Ok(values) => patients.push(values),
                        Err(invalid) => errors.extend(invalid),
                    },
                    _ => errors.push(at),
                }
            }
        }
        _ => errors.push("/instances".to_string()),
    }
    if errors.is_empty() {
        Verdict::Valid {
            batch: true,
            patients,
        }
    } else {
        Verdict::Invalid(errors)
    }
}

/// The risk level the thresholds give a probability, written out here rather than taken from
/// `RiskLevel::from_probability`, which is what it checks.
pub fn risk_level(p: f64) -> &'static str {
    if p >= HIGH_RISK_FROM {
        "high"
    } else if p >= MODERATE_RISK_FROM {
        "moderate"
    } else {
        "low"
    }
}

/// `Err` with a message unless the condition holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {{
        let holds: bool = $condition;
        if !holds {
            return Err(format!($($message)+));
        }
    }};
}

/// One answered assessment against the model core's for the same patient: a probability in
/// [0, 1], the prediction and risk level its thresholds give, contributions that with the
/// intercept add up to the logit, and the model core's numbers (to 1e-12 for the
/// probability, 1e-9 for the terms of the logit).
pub fn check_assessment(got: &Value, expected: &Assessment) -> Result<(), String> {
    let p = got["probability"]
        .as_f64()
        .ok_or(format!("no probability: {got}"))?;
    ensure!(p.is_finite() && (0.0..=1.0).contains(&p), "probability {p}");
    ensure!(
        got["prediction"].as_u64() == Some(u64::from(p >= DECISION_THRESHOLD)),
        "prediction for {p}: {got}"
    );
    ensure!(
        got["risk_level"] == risk_level(p),
        "risk level for {p}: {got}"
    );
    let intercept = got["intercept"]
        .as_f64()
        .ok_or(format!("no intercept: {got}"))?;
    ensure!(
        (intercept - expected.intercept).abs() < 1e-9,
        "intercept {intercept}"
    );
    let contributions = got["contributions"]
        .as_object()
        .ok_or(format!("no contributions: {got}"))?;
    ensure!(contributions.len() == N_FEATURES, "{got}");
    let mut logit = intercept;
    for (f, want) in FEATURES.iter().zip(expected.contributions) {
        let c = contributions.get(f.name).and_then(Value::as_f64);
        let c = c.ok_or(format!("no contribution of {}: {got}", f.name))?;
        ensure!(
            (c - want).abs() < 1e-9,
            "{}: {c}, the model says {want}",
            f.name
        );
        logit += c;
    }
    ensure!(
        (sigmoid(logit) - p).abs() < 1e-12,
        "σ(intercept + Σ contributions) = {} ≠ {p}",
        sigmoid(logit)
    );
    ensure!(
        (p - expected.probability).abs() < 1e-12,
        "probability {p}, the model says {}",
        expected.probability
    );
    let imputed: Vec<&str> = FEATURES
        .iter()
        .zip(expected.imputed)
        .filter(|(_, imputed)| *imputed)
        .map(|(f, _)| f.name)
        .collect();
    ensure!(
        got["imputed"] == serde_json::json!(imputed),
        "imputed: {got}"
    );
    Ok(())
}

/// A `POST /predict` answer (with a JSON content type) against the [`verdict`] on its body:
/// the status; for a 422 the fields named (all of them, or the first `max_errors` of them);
/// for a 200 each patient's assessment by the model core, in order. Keys repeated in a
/// patient or the batch wrapper ([`repeated_keys`]) are the ones said to be repeated.
pub fn check_predict_answer(
    body: &[u8],
    status: u16,
    answer: &Value,
    max_batch: usize,
    max_errors: usize,
) -> Result<(), String> {
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    let fields: Vec<String> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect();
    let said_repeated: Vec<&str> = errors
        .iter()
        .filter(|e| {
            e["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("more than once")
        })
        .map(|e| e["field"].as_str().unwrap_or_default())
        .collect();
    let repeated = repeated_keys(body, max_batch).unwrap_or_default();
    for field in &said_repeated {
        ensure!(
            repeated.iter().any(|r| r == field),
            "{field} is not repeated: {answer}"
        );
    }
    if errors.len() < max_errors {
        for field in &repeated {
            ensure!(
                said_repeated.contains(&field.as_str()),
                "{field} not said to be repeated: {answer}"
            );
        }
    }
    match verdict(body, max_batch) {
        Verdict::Syntax => ensure!(status == 400, "not JSON, answered {status}: {answer}"),
        Verdict::Invalid(mut expected) => {
            ensure!(
                status == 422,
                "invalid {expected:?}, answered {status}: {answer}"
            );
            let mut fields = fields;
            fields.sort();
            expected.sort();
            if expected.len() <= max_errors {
                ensure!(
                    fields == expected,
                    "named {fields:?}, expected {expected:?}"
                );
            } else {
                ensure!(fields.len() == max_errors, "{} errors listed", fields.len());
                ensure!(
                    fields.iter().all(|f| expected.binary_search(f).is_ok()),
                    "named {fields:?}, expected among {expected:?}"
                );
            }
        }
        Verdict::Valid { batch, patients } => {
            ensure!(status == 200, "valid, answered {status}: {answer}");
            ensure!(answer["model_version"] == MODEL_VERSION, "{answer}");
            let got: Vec<&Value> = if batch {
                let predictions = answer["predictions"].as_array();
                predictions
                    .ok_or(format!("no predictions: {answer}"))?
                    .iter()
                    .collect()
            } else {
                vec![answer]
            };
            ensure!(
                got.len() == patients.len(),
                "{} answers for {} patients",
                got.len(),
                patients.len()
            );
            for (got, values) in got.into_iter().zip(patients) {
                let patient = Patient::from_values(values).map_err(|e| {
                    format!("the model core refuses what the oracle accepts: {e:?}")
                })?;
                check_assessment(got, &MODEL.assess(&patient))?;
            }
        }
    }
    Ok(())
}
