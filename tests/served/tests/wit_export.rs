//! The component's typed `heart:predictor/predictor` export, called directly from a host
//! (Node.js, through `jco transpile` of the same release .wasm), gives exactly the answers
//! `POST /predict` gives over HTTP.

use std::process::{Command, Stdio};

use heart_served::{Runtime, Server};
use serde_json::{json, Map, Value};

fn dataset() -> Vec<Value> {
    let text = std::fs::read_to_string(heart_served::repo().join(trainer::DATA_FILE)).unwrap();
    trainer::data::parse(&text)
        .unwrap()
        .iter()
        .map(|e| {
            let object = heart_model::FEATURES
                .iter()
                .zip(e.patient.values())
                .map(|(f, v)| (f.name.to_string(), json!(v)))
                .collect();
            Value::Object(object)
        })
        .collect()
}

/// Transpiles the .wasm and calls the export with `calls` (see tests/wit/call-predictor.mjs).
fn call_export(calls: &Value) -> Value {
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jco-predictor");
    let _ = std::fs::remove_dir_all(&out_dir);
    let status = Command::new(heart_served::jco())
        .arg("transpile")
        .arg(heart_served::wasm())
        .arg("-o")
        .arg(&out_dir)
        .args(["--name", "heart", "--quiet"])
        .status()
        .expect("run jco transpile");
    assert!(status.success(), "jco transpile failed");
    let calls_file = out_dir.join("calls.json");
    std::fs::write(&calls_file, calls.to_string()).unwrap();
    let out = Command::new("node")
        .arg(heart_served::repo().join("tests/wit/call-predictor.mjs"))
        .arg(out_dir.join("heart.js"))
        .arg(&calls_file)
        .stderr(Stdio::inherit())
        .output()
        .expect("run node");
    assert!(out.status.success(), "calling the export failed");
    serde_json::from_slice(&out.stdout).expect("JSON from the caller")
}

/// Every number as a double: JavaScript writes 0.0 as `0`, Rust as `0.0`.
fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The export's assessment in the HTTP API's shape.
fn as_http(a: &Value) -> Value {
    let contributions: Map<String, Value> = a["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["feature"].as_str().unwrap().to_string(),
                c["value"].clone(),
            )
        })
        .collect();
    numbers_as_f64(&json!({
        "prediction": a["prediction"], "probability": a["probability"], "risk_level": a["riskLevel"],
        "contributions": contributions, "intercept": a["intercept"], "imputed": a["imputed"],
    }))
}

fn assert_same(from_export: &Value, over_http: &heart_served::Resp, what: &str) {
    let mut http = over_http.json();
    if let Some(ok) = from_export.get("ok") {
        assert_eq!(over_http.status, 200, "{what}: {}", over_http.text());
        let http = http.as_object_mut().unwrap();
        assert_eq!(
            http.remove("model_version").unwrap(),
            ok["modelVersion"],
            "{what}"
        );
        assert_eq!(
            numbers_as_f64(&Value::Object(http.clone())),
            as_http(ok),
            "{what}"
        );
    } else {
        assert_eq!(over_http.status, 422, "{what}: export said {from_export}");
        assert_eq!(http["errors"], from_export["err"]["errors"], "{what}");
    }
}

#[test]
fn the_wit_export_answers_exactly_as_http() {
    let data = dataset();
    let mut singles = data.clone();
    let mut bad = data[0].clone();
    bad["cp"] = json!(9);
    bad["chol"] = json!(1e6);
    singles.push(bad.clone());
    let mut missing = data[1].clone();
    missing["slope"] = Value::Null;
    missing["thal"] = Value::Null;
    singles.push(missing);

    let thousand: Vec<Value> = (0..1000).map(|i| data[i % data.len()].clone()).collect();
    let batches = vec![
        thousand,
        vec![],
        vec![data[2].clone(), bad.clone()],
        vec![data[3].clone(); 1001],
    ];
    let result = call_export(&json!({ "single": singles, "batch": batches }));
    assert_eq!(result["version"], heart_model::MODEL_VERSION);

    let server = Server::start(Runtime::Wasmtime);
    for (i, (p, r)) in singles
        .iter()
        .zip(result["single"].as_array().unwrap())
        .enumerate()
    {
        assert_same(
            r,
            &server.post_json("/predict", &p.to_string()),
            &format!("single {i}"),
        );
    }
    for (i, (b, r)) in batches
        .iter()
        .zip(result["batch"].as_array().unwrap())
        .enumerate()
    {
        let http = server.post_json("/predict", &json!({ "instances": b }).to_string());
        match r.get("ok") {
            Some(list) => {
                assert_eq!(http.status, 200);
                let served: Vec<Value> = http.json()["predictions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(numbers_as_f64)
                    .collect();
                let called: Vec<Value> = list.as_array().unwrap().iter().map(as_http).collect();
                assert_eq!(served, called, "batch {i}");
            }
            None => assert_same(r, &http, &format!("batch {i}")),
        }
    }
}
