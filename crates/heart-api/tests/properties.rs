//! Property tests of the whole request path, run natively through
//! [`heart_api::respond`] (routing → parsing → validation → prediction →
//! serialisation) and the model core: generated bodies, generated valid patients, and the
//! algebra of the answers.
//!
//! What an answer should be never comes from the service's own reader: the status and the
//! fields at fault from the oracle (tests/oracle: serde_json's reading and the feature
//! table's domains), the numbers from `MODEL.assess` on the patient the test generated.

mod oracle;

use heart_api::{Method, Request};
use heart_model::schema::{Domain, Encoding, Feature, FEATURES};
use heart_model::{Patient, MODEL, MODEL_VERSION};
use heart_wire::limits::{MAX_BATCH, MAX_ERRORS};
use oracle::Verdict;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A response as the tests look at it.
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

fn call(method: Method, path: &str, content_type: Option<&str>, body: &[u8]) -> Answer {
    let headers = content_type
        .map(|ct| vec![("content-type".to_string(), ct.as_bytes().to_vec())])
        .unwrap_or_default();
    let response = heart_api::respond(Request::new(method, path, headers, body.to_vec()));
    let status = response.status();
    assert_eq!(
        response.header("x-model-version"),
        Some(MODEL_VERSION),
        "every answer names the model"
    );
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    let body = serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "{status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(response.body())
        )
    });
    Answer {
        status,
        content_type,
        body,
    }
}

fn predict(body: &[u8]) -> Answer {
    call(Method::Post, "/predict", Some("application/json"), body)
}

fn predict_value(value: &Value) -> Answer {
    predict(&serde_json::to_vec(value).unwrap())
}

/// 2xx with a JSON document, or 4xx with RFC 9457 problem details whose `status` is the
/// HTTP status.
fn assert_well_formed(a: &Answer) {
    match a.status {
        200 => {
            assert_eq!(a.content_type, "application/json");
            assert_eq!(a.body["model_version"], MODEL_VERSION, "{}", a.body);
        }
        400..=499 => {
            assert_eq!(a.content_type, "application/problem+json");
            assert_eq!(a.body["status"], a.status, "{}", a.body);
            assert!(a.body["title"].is_string(), "{}", a.body);
            assert!(a.body["detail"].is_string(), "{}", a.body);
            if let Some(errors) = a.body.get("errors") {
                let errors = errors.as_array().expect("errors is an array");
                assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS);
            }
        }
        other => panic!("status {other}: {}", a.body),
    }
}

fn patient_json(p: &Patient) -> Value {
    Value::Object(
        FEATURES
            .iter()
            .zip(p.values())
            .map(|(f, v)| (f.name.to_string(), json!(v)))
            .collect(),
    )
}

/// One answered assessment against the model core's for the patient the test generated.
fn assert_consistent(got: &Value, p: &Patient) {
    if let Err(message) = oracle::check_assessment(got, &MODEL.assess(p)) {
        panic!("{message}");
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

fn feature_value(f: &Feature) -> BoxedStrategy<f64> {
    match f.domain {
        Domain::Range {
            min,
            max,
            integer: true,
        } => (min as i64..=max as i64).prop_map(|v| v as f64).boxed(),
        Domain::Range { min, max, .. } => prop_oneof![
            4 => min..=max,
            1 => Just(min),
            1 => Just(max),
            2 => (min as i64..=max as i64).prop_map(|v| v as f64),
        ]
        .boxed(),
        Domain::Levels(levels) => prop::sample::select(levels.to_vec()).boxed(),
    }
}

/// A valid patient: every value in its feature's domain, optional features sometimes absent.
fn patient() -> BoxedStrategy<Patient> {
    FEATURES
        .iter()
        .map(|f| {
            if f.required {
                feature_value(f).prop_map(Some).boxed()
            } else {
                prop::option::weighted(0.8, feature_value(f)).boxed()
            }
        })
        .collect::<Vec<_>>()
        .prop_map(|values| {
            Patient::from_values(values.try_into().expect("13 values")).expect("a valid patient")
        })
        .boxed()
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FEATURES.map(|f| f.name).to_vec()).prop_map(String::from),
        1 => Just("instances".to_string()),
        1 => any::<String>(),
    ]
}

/// Any JSON value, biased towards what the endpoint looks at: feature names as keys,
/// numbers near the domains, `instances`, and patients with one field changed.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|x| json!(x)), // non-finite become null
        (-10.0..300.0f64).prop_map(|x| json!(x)),
        (0u8..10).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    let any_value = leaf
        .prop_recursive(4, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((json_key(), inner), 0..15)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed();
    let near_patient = (patient(), json_key(), any_value.clone())
        .prop_map(|(p, k, v)| {
            let mut object = patient_json(&p);
            object[k.as_str()] = v;
            object
        })
        .boxed();
    let valid = patient().prop_map(|p| patient_json(&p)).boxed();
    let item = prop_oneof![
        3 => valid.clone(),
        1 => near_patient.clone(),
        1 => any_value.clone(),
    ];
    let batch = prop::collection::vec(item, 0..5).prop_map(|items| json!({ "instances": items }));
    prop_oneof![
        3 => any_value,
        2 => valid,
        3 => near_patient,
        2 => batch,
    ]
}

/// A numeric feature (standardised or a 0/1 flag: one model column each), its column's
/// weight, and two of its values `lo < hi`.
fn numeric_feature_pair() -> impl Strategy<Value = (usize, f64, f64, f64)> {
    let mut column = 0;
    let mut numeric = Vec::new();
    for (i, f) in FEATURES.iter().enumerate() {
        if matches!(f.encoding, Encoding::Standardize | Encoding::Flag) {
            numeric.push((i, MODEL.weights[column]));
        }
        column += f.width();
    }
    prop::sample::select(numeric).prop_flat_map(|(i, w)| {
        (
            Just(i),
            Just(w),
            feature_value(&FEATURES[i]),
            feature_value(&FEATURES[i]),
        )
            .prop_filter_map("two different values", |(i, w, a, b)| {
                (a != b).then(|| (i, w, a.min(b), a.max(b)))
            })
    })
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// JSON text with a few random edits: bytes that matter to the grammar inserted, bytes
/// deleted or replaced, so most bodies are almost JSON.
fn edited_json() -> impl Strategy<Value = Vec<u8>> {
    let significant: Vec<u8> = br#"{}[]:,"\/ -+.eE0123456789tfnul"#.to_vec();
    (
        json_value(),
        any::<bool>(),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                0u8..3,
                prop::sample::select(significant),
            ),
            0..4,
        ),
    )
        .prop_map(|(value, pretty, edits)| {
            let mut text = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            for (at, op, byte) in edits {
                let i = at.index(text.len() + 1);
                match op {
                    0 => text.insert(i, byte),
                    1 if i < text.len() => {
                        text.remove(i);
                    }
                    _ if i < text.len() => text[i] = byte,
                    _ => {}
                }
            }
            text
        })
}

/// A body with a key given twice where a patient or the batch wrapper is read: in a single
/// patient, in one item of a batch, `"instances"` itself, or an unknown key of the wrapper;
/// the second value the same as the first or any other.
fn repeated_key_body() -> impl Strategy<Value = Vec<u8>> {
    (
        patient(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop_oneof![Just(None), json_value().prop_map(Some)],
        0u8..4,
        1usize..4,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(p, which, place, value, layout, n, at)| {
            let object = |members: &[(String, String)]| {
                let inner: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", inner.join(","))
            };
            let members: Vec<(String, String)> = patient_json(&p)
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()).to_string(), v.to_string()))
                .collect();
            let (key, first) = members[which.index(members.len())].clone();
            let again = value.map_or(first, |v| v.to_string());
            let mut repeated = members.clone();
            repeated.insert(place.index(members.len() + 1), (key, again));
            let text = match layout {
                0 => object(&repeated),
                1 => {
                    let mut items = vec![object(&members); n];
                    items[at.index(n)] = object(&repeated);
                    format!("{{\"instances\":[{}]}}", items.join(","))
                }
                2 => format!(
                    "{{\"instances\":[{}],\"instances\":[{}]}}",
                    object(&members),
                    object(&members)
                ),
                _ => format!("{{\"x\":1,\"instances\":[{}],\"x\":2}}", object(&members)),
            };
            text.into_bytes()
        })
}

/// The oracle of `POST /predict` for any body, from serde_json and the feature table rather
/// than the component's own reader: 400 exactly for what serde_json refuses; a key repeated
/// in a patient or the batch wrapper is 422 naming it (JSON Pointer) as repeated; any other
/// invalid body 422 naming exactly the fields at fault; a valid one 200 with the model core's
/// assessment of each patient.
fn check_against_serde_json(body: &[u8]) -> Result<(), TestCaseError> {
    let a = predict(body);
    assert_well_formed(&a);
    oracle::check_predict_answer(body, a.status, &a.body, MAX_BATCH, MAX_ERRORS)
        .map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// serde_json and the feature table decide every body (accepting exactly the JSON
    /// serde_json accepts, answering what its reading gets), but for keys repeated in a
    /// patient or the batch wrapper, which are 422 naming the field where serde_json would
    /// keep the last value.
    #[test]
    fn the_answer_is_serde_json_s_but_for_repeated_keys(body in prop_oneof![
        2 => repeated_key_body(),
        2 => edited_json(),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]) {
        check_against_serde_json(&body)?;
    }

    /// The request reader (heart_wire::json) accepts exactly the JSON serde_json accepts,
    /// with the same nesting limit, so a body is a 400 on the same grounds as with a parser
    /// that builds the whole tree.
    #[test]
    fn the_reader_accepts_exactly_json(body in prop_oneof![
        edited_json(),
        repeated_key_body(),
        prop::collection::vec(any::<u8>(), 0..64),
    ]) {
        let mut reader = heart_wire::json::Reader::new(&body);
        let ours = reader.skip().and_then(|()| reader.end());
        let serde = serde_json::from_slice::<Value>(&body);
        prop_assert_eq!(
            ours.is_ok(),
            serde.is_ok(),
            "{:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(&body),
            ours,
            serde.err()
        );
        // And a body that is JSON is answered 200 or 422, never 400.
        let status = predict(&body).status;
        prop_assert_eq!(status == 400, serde.is_err(), "{}", status);
    }

    /// Any JSON document is answered 200 or 422 (never 5xx, never a panic), exactly as the
    /// feature table's domains decide, and every refusal is problem+json.
    #[test]
    fn any_json_value_gets_2xx_or_problem_json(value in json_value()) {
        let a = predict_value(&value);
        assert_well_formed(&a);
        match oracle::verdict(&serde_json::to_vec(&value).unwrap(), MAX_BATCH) {
            Verdict::Valid { .. } => prop_assert_eq!(a.status, 200, "{}", a.body),
            Verdict::Invalid(_) => prop_assert_eq!(a.status, 422, "{}", a.body),
            Verdict::Syntax => panic!("serde_json wrote what it cannot read: {value}"),
        }
    }

    /// Any bytes under any content type: 2xx, or a 4xx with problem+json.
    #[test]
    fn any_bytes_get_2xx_or_problem_json(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            json_value().prop_map(|v| {
                let mut text = serde_json::to_vec(&v).unwrap();
                text.truncate(text.len() / 2);
                text
            }),
        ],
        content_type in prop::option::of(prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "Application/JSON",
            "text/plain", "application/x-www-form-urlencoded", "", "json",
        ])),
        method in prop::sample::select(vec![Method::Post, Method::Get, Method::Head, Method::Put, Method::Delete]),
        path in prop::sample::select(vec!["/predict", "/health", "/model", "/", "/predict/x"]),
    ) {
        let a = call(method, path, content_type, &body);
        assert_well_formed(&a);
    }

    /// A valid patient: a probability in [0, 1], the prediction and risk level its
    /// thresholds give, contributions that add up to the logit, and the model core's numbers
    /// for the patient generated.
    #[test]
    fn a_valid_patient_is_answered_consistently(p in patient()) {
        let a = predict_value(&patient_json(&p));
        prop_assert_eq!(a.status, 200, "{}", a.body);
        assert_well_formed(&a);
        assert_consistent(&a.body, &p);
    }

    /// A batch answers exactly what each of its patients gets alone, in order.
    #[test]
    fn a_batch_equals_its_singles(patients in prop::collection::vec(patient(), 1..12)) {
        let batch = json!({ "instances": patients.iter().map(patient_json).collect::<Vec<_>>() });
        let a = predict_value(&batch);
        prop_assert_eq!(a.status, 200, "{}", a.body);
        let predictions = a.body["predictions"].as_array().expect("predictions");
        prop_assert_eq!(predictions.len(), patients.len());
        for (p, got) in patients.iter().zip(predictions) {
            let single = predict_value(&patient_json(p));
            prop_assert_eq!(single.status, 200);
            let mut single = single.body;
            single.as_object_mut().unwrap().remove("model_version");
            prop_assert_eq!(got, &single);
            assert_consistent(got, p);
        }
    }

    /// Moving a numeric feature in the direction of its coefficient's sign never lowers the
    /// probability (and against it never raises it).
    #[test]
    fn moving_with_the_coefficient_never_lowers_the_risk(
        p in patient(),
        (feature, weight, lo, hi) in numeric_feature_pair(),
    ) {
        let at = |x: f64| {
            let patient = p.with(feature, Some(x)).expect("a value in the domain");
            let a = predict_value(&patient_json(&patient));
            assert_eq!(a.status, 200, "{}", a.body);
            (a.body["probability"].as_f64().unwrap(), MODEL.probability(&patient))
        };
        let ((served_lo, host_lo), (served_hi, host_hi)) = (at(lo), at(hi));
        let name = FEATURES[feature].name;
        if weight > 0.0 {
            prop_assert!(served_hi >= served_lo, "{name}: p({hi}) = {served_hi} < p({lo}) = {served_lo}");
            prop_assert!(host_hi >= host_lo);
        } else if weight < 0.0 {
            prop_assert!(served_lo >= served_hi, "{name}: p({lo}) = {served_lo} < p({hi}) = {served_hi}");
            prop_assert!(host_lo >= host_hi);
        }
    }
}

/// The generators reach every outcome the properties speak about (so a property cannot
/// pass by never seeing a 200 or never seeing a refusal).
#[test]
fn generators_reach_both_answers() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..300 {
        let value = json_value().new_tree(&mut runner).unwrap().current();
        match oracle::verdict(&serde_json::to_vec(&value).unwrap(), MAX_BATCH) {
            Verdict::Valid { .. } => ok += 1,
            _ => refused += 1,
        }
    }
    assert!(ok >= 10 && refused >= 10, "ok {ok}, refused {refused}");
    // Every body of the repeated-key generator repeats a key the oracle names, in each place.
    let mut places = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let body = repeated_key_body().new_tree(&mut runner).unwrap().current();
        let repeated = oracle::repeated_keys(&body, MAX_BATCH).expect("JSON");
        assert!(!repeated.is_empty(), "{}", String::from_utf8_lossy(&body));
        places.extend(repeated.iter().map(|p| match p.split('/').nth(1) {
            Some("instances") if p.len() > "/instances".len() => "item",
            Some("instances") => "instances",
            Some("x") => "wrapper",
            _ => "patient",
        }));
    }
    assert_eq!(places.len(), 4, "{places:?}");
    let weights_with_sign = FEATURES
        .iter()
        .scan(0, |col, f| {
            let w = MODEL.weights[*col];
            *col += f.width();
            Some((f.encoding, w))
        })
        .filter(|(e, w)| *e == Encoding::Standardize && *w != 0.0)
        .count();
    assert!(
        weights_with_sign >= 5,
        "the monotonicity property has features to move"
    );
}
