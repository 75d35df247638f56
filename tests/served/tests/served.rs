//! The release `.wasm`, served by every real host it ships to (`wasmtime serve`, `jco serve`,
//! `spin up`, `spin up --from` the pushed OCI artifact, containerd-shim-spin under containerd,
//! and workerd, Cloudflare's runtime), answers real HTTP requests exactly as the host-side
//! model core does. Each host serves the same bytes: the launcher checks the sha256 (and the
//! registry's wasm layer digest) before a test starts.

use heart_model::schema::FEATURES;
use heart_model::{Patient, MODEL, MODEL_CARD_JSON, MODEL_VERSION};
use heart_served::trials::Check;
use heart_served::{Body, Req, Runtime, Server};
use serde_json::{json, Value};

fn main() -> std::process::ExitCode {
    heart_served::trials::run(&Runtime::ALL, CHECKS, vec![])
}

/// Every check, each run on every runtime (`RUNTIME::CHECK`): the plain wasi:http host, jco,
/// `spin up`, `spin up --from` the pushed OCI artifact (what the chart deploys), the same
/// artifact on SpinKube's node runtime (containerd with containerd-shim-spin), and the
/// component transpiled into a Cloudflare Worker (edge/) on workerd.
const CHECKS: &[(&str, Check)] = &[
    ("health_and_model_card", health_and_model_card),
    (
        "predictions_equal_the_host_model",
        predictions_equal_the_host_model,
    ),
    (
        "batch_of_1000_equals_1000_single_calls",
        batch_of_1000_equals_1000_single_calls,
    ),
    ("imputation_is_reported", imputation_is_reported),
    (
        "every_error_class_is_problem_json",
        every_error_class_is_problem_json,
    ),
    ("head_answers_like_get", head_answers_like_get),
    ("model_figures_are_served", model_figures_are_served),
    ("repeated_keys_are_named", repeated_keys_are_named),
    (
        "the_log_has_one_line_per_request_and_no_patient_values",
        the_log_has_one_line_per_request_and_no_patient_values,
    ),
    (
        "concurrent_requests_keep_to_their_own_answers_and_lines",
        concurrent_requests_keep_to_their_own_answers_and_lines,
    ),
];

/// Many requests at once, each with its own patients, id and outcome, answer and log as if
/// each were alone: every answer is, byte for byte, what the service gives that request
/// natively ([`heart_api::respond`]), and every log line carries its own request's id,
/// status and batch size, once. Spin 4 and the v0.25 shim serve the wasi:http 0.3 build with
/// one instance for up to 16 requests at once, so this is where state carried from one
/// request to another (an id, a buffer, a half-written line) would show.
fn concurrent_requests_keep_to_their_own_answers_and_lines(s: &Server) {
    const CLIENTS: usize = 16;
    const PER_CLIENT: usize = 25;
    const THAL: [u32; 3] = [3, 6, 7];
    let mix = format!("mix-{}", s.runtime.name());
    // Request n: 1-3 patients unlike anyone else's, every fifth one invalid (a 422).
    let request = |n: usize| {
        let patients: Vec<Value> = (0..1 + n % 3)
            .map(|k| {
                let mut p = json!({"age": 30 + (n + k) % 60, "sex": (n + k) % 2, "cp": 1 + n % 4,
                    "trestbps": 100 + n % 90, "chol": 150 + n + k, "fbs": 0, "restecg": n % 3,
                    "thalach": 90 + n % 100, "exang": k % 2, "oldpeak": (n % 40) as f64 / 10.0,
                    "slope": 1 + n % 3, "ca": n % 4, "thal": THAL[n % 3]});
                if n % 5 == 4 {
                    p["cp"] = json!(9);
                }
                p
            })
            .collect();
        let body = json!({ "instances": patients }).to_string().into_bytes();
        (format!("{mix}-{n}"), body)
    };
    let expected = |id: &str, body: &[u8]| {
        heart_api::respond(heart_api::Request::new(
            heart_api::Method::Post,
            "/predict",
            vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("x-request-id".into(), id.as_bytes().to_vec()),
            ],
            body.to_vec(),
        ))
    };
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (addr, request, expected) = (&s.addr, &request, &expected);
            scope.spawn(move || {
                for i in 0..PER_CLIENT {
                    let (id, body) = request(client * PER_CLIENT + i);
                    let want = expected(&id, &body);
                    let got = heart_served::try_send(
                        addr,
                        &Req::post("/predict", body)
                            .header("content-type", "application/json")
                            .header("x-request-id", &id),
                    )
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert_eq!(got.status, want.status(), "{id}: {}", got.text());
                    assert_eq!(got.body, want.body(), "{id}: another request's answer?");
                    assert_eq!(got.header("x-request-id"), Some(id.as_str()));
                    assert_eq!(
                        got.header("x-batch-size"),
                        want.header("x-batch-size"),
                        "{id}"
                    );
                }
            });
        }
    });
    // A host may write a line a moment after its answer: wait for every one, then read them.
    let total = CLIENTS * PER_CLIENT;
    for n in 0..total {
        s.wait_for_log(&format!("\"{mix}-{n}\""));
    }
    let log = s.log();
    let mut seen = std::collections::HashMap::new();
    for line in log.lines().filter(|l| l.contains(&format!("\"{mix}-"))) {
        let entry: Value = serde_json::from_str(&line[line.find('{').unwrap_or(0)..])
            .unwrap_or_else(|e| panic!("{:?}: a broken log line ({e}): {line}", s.runtime));
        let id = entry["request_id"]
            .as_str()
            .expect("request_id")
            .to_string();
        let n: usize = id
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .expect("the request's number");
        let (_, body) = request(n);
        let want = expected(&id, &body);
        assert_eq!(entry["status"], want.status(), "{line}");
        assert_eq!(
            entry["batch_size"],
            want.batch_size().unwrap_or(0),
            "{line}"
        );
        assert_eq!(entry["path"], "/predict", "{line}");
        *seen.entry(id).or_insert(0) += 1;
    }
    assert_eq!(
        seen.len(),
        total,
        "{:?}: a line for every request",
        s.runtime
    );
    assert!(
        seen.values().all(|&k| k == 1),
        "{:?}: an id logged twice",
        s.runtime
    );
}

/// The model card's figures: each one the trainer drew, byte for byte, as SVG, and on the docs
/// page; an unknown name is a problem+json 404 that lists the figures.
fn model_figures_are_served(s: &Server) {
    let docs = s.send(&Req::get("/docs")).text();
    for (name, _) in heart_wire::openapi::model_figures() {
        let r = s.send(&Req::get(&format!("/model/figures/{name}")));
        assert_eq!(r.status, 200, "{:?} {name}", s.runtime);
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        let drawn = std::fs::read(heart_served::repo().join("model/figures").join(&name)).unwrap();
        assert_eq!(
            r.body, drawn,
            "{:?}: {name} is the trainer's file",
            s.runtime
        );
        assert!(
            docs.contains(&format!("src=\"/model/figures/{name}\"")),
            "/docs shows {name}"
        );
    }
    let r = s.send(&Req::get("/model/figures/nope.svg"));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.json()["detail"].as_str().unwrap().contains("roc.svg"));
}

/// HEAD on every GET route: the GET answer's status and headers (its content-length
/// included), and no body. HEAD where only POST goes is a 405 like any other wrong method.
fn head_answers_like_get(s: &Server) {
    for path in &heart_served::get_paths() {
        let id = "head-check";
        let get = s.send(&Req::get(path).header("x-request-id", id));
        let head = s.send(&Req::new("HEAD", path).header("x-request-id", id));
        let ctx = format!("{:?} HEAD {path}", s.runtime);
        assert_eq!(head.status, get.status, "{ctx}");
        assert!(
            head.body.is_empty(),
            "{ctx}: a body of {} bytes",
            head.body.len()
        );
        assert_eq!(
            get.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "{ctx}: GET's content-length"
        );
        assert_eq!(head.comparable_headers(), get.comparable_headers(), "{ctx}");
    }
    let r = s.send(&Req::new("HEAD", "/predict"));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = s.send(&Req::post("/health", vec![]));
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

/// A key given twice in a patient or in the batch wrapper: 422 naming it.
fn repeated_keys_are_named(s: &Server) {
    let good = patient_json(&dataset()[0]).to_string();
    let twice = good.replacen('{', "{\"age\":40,", 1);
    for (body, field) in [
        (twice.clone(), "/age"),
        (
            format!("{{\"instances\":[{good},{good},{good},{twice}]}}"),
            "/instances/3/age",
        ),
        (
            format!("{{\"instances\":[{good}],\"instances\":[{good}]}}"),
            "/instances",
        ),
    ] {
        let r = s.post_json("/predict", &body);
        assert_eq!(r.status, 422, "{:?}: {}", s.runtime, r.text());
        let errors = r.json()["errors"].clone();
        assert!(
            errors
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field
                    && e["reason"].as_str().unwrap().contains("more than once")),
            "{:?}: {errors}",
            s.runtime
        );
    }
}

/// The 303 patients of the training data (their missing `ca`/`thal` as `null`).
fn dataset() -> Vec<Patient> {
    let text =
        std::fs::read_to_string(heart_served::repo().join(trainer::DATA_FILE)).expect("data file");
    trainer::data::parse(&text)
        .expect("data parses")
        .into_iter()
        .map(|e| e.patient)
        .collect()
}

fn patient_json(p: &Patient) -> Value {
    let object = FEATURES
        .iter()
        .zip(p.values())
        .map(|(f, v)| (f.name.to_string(), json!(v)))
        .collect();
    Value::Object(object)
}

fn problem_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn health_and_model_card(s: &Server) {
    let r = s.send(&Req::get("/health"));
    assert_eq!(r.status, 200, "{:?} /health", s.runtime);
    assert_eq!(
        r.json(),
        json!({"status": "ok", "model_version": MODEL_VERSION})
    );
    assert_eq!(r.header("x-model-version"), Some(MODEL_VERSION));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    let r = s.send(&Req::get("/openapi.json"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        heart_wire::openapi::openapi(),
        "{:?}: /openapi.json",
        s.runtime
    );
    let r = s.send(&Req::get("/docs"));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.len() <= 50 * 1024 && r.text().contains("<code>thalach</code>"));

    let r = s.send(&Req::get("/model"));
    assert_eq!(r.status, 200);
    let card: Value = serde_json::from_str(MODEL_CARD_JSON).unwrap();
    assert_eq!(
        r.json(),
        card,
        "{:?}: /model is the committed model card",
        s.runtime
    );
    assert_eq!(card["model_version"], MODEL_VERSION);
    assert_eq!(r.header("x-model-version"), Some(MODEL_VERSION));
}

/// Every training patient, one request each: the served answer is the host's to 1e-12, and
/// the whole explanation (contributions, intercept, imputed, risk level) agrees.
fn predictions_equal_the_host_model(s: &Server) {
    for (i, p) in dataset().iter().enumerate() {
        let r = s.post_json("/predict", &patient_json(p).to_string());
        assert_eq!(r.status, 200, "{:?} row {i}: {}", s.runtime, r.text());
        assert_eq!(r.header("x-model-version"), Some(MODEL_VERSION));
        let got = r.json();
        let want = MODEL.assess(p);
        let prob = got["probability"].as_f64().unwrap();
        assert!(
            (prob - want.probability).abs() <= 1e-12,
            "{:?} row {i}: {prob} vs {}",
            s.runtime,
            want.probability
        );
        assert_eq!(got["model_version"], MODEL_VERSION);
        assert_eq!(got["prediction"], want.prediction);
        assert_eq!(got["risk_level"], want.risk_level.as_str());
        for (f, c) in FEATURES.iter().zip(want.contributions) {
            let served = got["contributions"][f.name].as_f64().unwrap();
            assert!(
                (served - c).abs() <= 1e-12,
                "row {i} contribution of {}",
                f.name
            );
        }
        assert!((got["intercept"].as_f64().unwrap() - want.intercept).abs() <= 1e-12);
        let imputed: Vec<&str> = want.imputed_names().collect();
        assert_eq!(got["imputed"], json!(imputed));
    }
}

fn batch_of_1000_equals_1000_single_calls(s: &Server) {
    let data = dataset();
    let patients: Vec<Value> = (0..1000)
        .map(|i| {
            let mut v = patient_json(&data[i % data.len()]);
            v["age"] = json!(30 + (i % 47) as i64);
            v
        })
        .collect();
    let body = json!({ "instances": patients }).to_string();
    assert!(
        body.len() > 64 * 1024 && body.len() < 256 * 1024,
        "a real batch of 1000: {} bytes",
        body.len()
    );
    let r = s.post_json("/predict", &body);
    assert_eq!(r.status, 200, "{:?}: {}", s.runtime, r.text());
    let batch = r.json();
    assert_eq!(batch["model_version"], MODEL_VERSION);
    let predictions = batch["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 1000);
    for (i, (patient, from_batch)) in patients.iter().zip(predictions).enumerate() {
        let mut single = s.post_json("/predict", &patient.to_string()).json();
        single.as_object_mut().unwrap().remove("model_version");
        assert_eq!(
            &single, from_batch,
            "{:?}: patient {i} alone vs in the batch",
            s.runtime
        );
    }
}

fn imputation_is_reported(s: &Server) {
    let mut p = patient_json(&dataset()[0]);
    p.as_object_mut().unwrap().remove("slope");
    p["ca"] = Value::Null;
    let r = s.post_json("/predict", &p.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imputed"], json!(["slope", "ca"]));
}

/// One request per error class: status, problem+json, the offending fields named.
fn every_error_class_is_problem_json(s: &Server) {
    let good = patient_json(&dataset()[0]);
    let with = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v.to_string()
    };
    let without = |key: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        v.to_string()
    };
    let json_post = |body: String| {
        Req::post("/predict", body.into_bytes()).header("content-type", "application/json")
    };
    let instances = |n: usize| json!({ "instances": vec![good.clone(); n] }).to_string();
    let big_batch = instances(1001);

    let cases: Vec<(&str, Req, u16, Vec<&str>)> = vec![
        (
            "invalid JSON",
            json_post("{\"age\": 63,".into()),
            400,
            vec![],
        ),
        (
            "NaN literal",
            json_post(good.to_string().replace("\"age\":63.0", "\"age\":NaN")),
            400,
            vec![],
        ),
        (
            "number overflowing f64",
            json_post(good.to_string().replace("\"age\":63.0", "\"age\":1e400")),
            400,
            vec![],
        ),
        (
            "out of range",
            json_post(with("cp", json!(5))),
            422,
            vec!["/cp"],
        ),
        (
            "not a whole number",
            json_post(with("ca", json!(1.5))),
            422,
            vec!["/ca"],
        ),
        (
            "wrong type",
            json_post(with("chol", json!("233"))),
            422,
            vec!["/chol"],
        ),
        (
            "NaN as a string",
            json_post(with("age", json!("NaN"))),
            422,
            vec!["/age"],
        ),
        (
            "null for a required field",
            json_post(with("sex", Value::Null)),
            422,
            vec!["/sex"],
        ),
        (
            "missing required field",
            json_post(without("thalach")),
            422,
            vec!["/thalach"],
        ),
        (
            "unknown field",
            json_post(with("bmi", json!(22))),
            422,
            vec!["/bmi"],
        ),
        (
            "several at once",
            json_post(with("fbs", json!(2)).replace("\"cp\":1.0", "\"cp\":0")),
            422,
            vec!["/cp", "/fbs"],
        ),
        (
            "not an object",
            json_post("[1, 2, 3]".into()),
            422,
            vec![""],
        ),
        (
            "empty batch",
            json_post(instances(0)),
            422,
            vec!["/instances"],
        ),
        (
            "batch over 1000",
            json_post(big_batch.clone()),
            422,
            vec!["/instances"],
        ),
        (
            "bad patient in a batch",
            json_post(json!({"instances": [good, {"age": 63}]}).to_string()),
            422,
            vec!["/instances/1/sex"],
        ),
        (
            "body over 256 KiB",
            json_post(format!(
                "{{\"instances\": [{}]}}{}",
                good,
                " ".repeat(256 * 1024)
            )),
            413,
            vec![],
        ),
        (
            "streamed body over 256 KiB",
            Req::new("POST", "/predict")
                .header("content-type", "application/json")
                .body(Body::Chunked {
                    chunk: vec![b' '; 16 * 1024],
                    chunks: 512,
                }),
            413,
            vec![],
        ),
        (
            "wrong content type",
            Req::post("/predict", good.to_string().into_bytes())
                .header("content-type", "text/plain"),
            415,
            vec![],
        ),
        (
            "no content type",
            Req::post("/predict", good.to_string().into_bytes()),
            415,
            vec![],
        ),
        ("wrong method", Req::get("/predict"), 405, vec![]),
        (
            "wrong method on /health",
            Req::post("/health", vec![]),
            405,
            vec![],
        ),
        ("unknown path", Req::get("/predictions"), 404, vec![]),
    ];
    for (name, req, status, fields) in cases {
        let r = s.send(&req);
        let ctx = format!("{:?} {name}: {} {}", s.runtime, r.status, r.text());
        assert_eq!(r.status, status, "{ctx}");
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{ctx}"
        );
        assert_eq!(r.header("x-model-version"), Some(MODEL_VERSION), "{ctx}");
        let body = r.json();
        assert_eq!(body["status"], status, "{ctx}");
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{ctx}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "{ctx}"
        );
        let named = problem_fields(&body);
        for f in &fields {
            assert!(
                named.iter().any(|n| n == f),
                "{ctx}: expected {f} among {named:?}"
            );
        }
        if status == 422 {
            assert!(
                body["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["reason"].as_str().is_some_and(|r| !r.is_empty())),
                "{ctx}"
            );
        }
        if status == 405 {
            assert!(
                r.header("allow")
                    .is_some_and(|a| a == "POST" || a == "GET, HEAD"),
                "{ctx}"
            );
        }
    }
}

/// Each request leaves one JSON line on the server's stderr with what an operator needs, and
/// no value the caller submitted.
fn the_log_has_one_line_per_request_and_no_patient_values(s: &Server) {
    // Values chosen to be unlike anything else in a log line.
    let patient = json!({"age": 58.0625, "sex": 1, "cp": 4, "trestbps": 173.375, "chol": 487.8125,
                         "fbs": 0, "restecg": 1, "thalach": 111.4375, "exang": 1, "oldpeak": 3.4375,
                         "slope": 2, "ca": 2, "thal": 7});
    let secrets = [58.0625, 173.375, 487.8125, 111.4375, 3.4375];
    let id = format!("privacy-{:?}", s.runtime);
    let body = json!({"instances": [patient, patient]}).to_string();
    let r = s.send(
        &Req::post("/predict?age=58.0625", body.into_bytes())
            .header("content-type", "application/json")
            .header("x-request-id", &id),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-request-id"), Some(id.as_str()));
    assert_eq!(r.header("x-batch-size"), Some("2"));
    let bad = s.post_json(
        "/predict",
        &patient.to_string().replace("\"cp\":4", "\"cp\":9"),
    );
    assert_eq!(bad.status, 422);
    let bad_id = bad
        .header("x-request-id")
        .expect("a generated request id")
        .to_string();

    let log = s.wait_for_log(&bad_id);
    let line = log
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no line for {id}:\n{log}"));
    // wasmtime serve prefixes a component's stderr with `stderr [N] :: `.
    let line = &line[line.find('{').unwrap_or(0)..];
    let entry: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["path"], "/predict");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["batch_size"], 2);
    assert_eq!(entry["model_version"], MODEL_VERSION);
    assert!(
        entry["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    let bad_line = log.lines().find(|l| l.contains(&bad_id)).unwrap();
    assert!(bad_line.contains("\"status\":422"), "{bad_line}");
    // Compared as numbers, token by token: a latency such as 0.580625 is not 58.0625.
    let logged: Vec<f64> = log
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|token| token.trim_matches('.').parse().ok())
        .collect();
    for secret in secrets {
        assert!(
            !logged.contains(&secret),
            "{:?} logged a submitted value {secret}:\n{log}",
            s.runtime
        );
    }
}
