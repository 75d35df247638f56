//! The fuzz target's invariants (fuzz/fuzz_targets/respond.rs runs [`check`] on every input
//! libFuzzer makes; tests/regressions.rs on every committed one): arbitrary bytes → a chosen
//! method, path, content type and body → `heart_api::respond` (routing → parsing →
//! validation → prediction → serialisation), then the invariants every answer must keep.
//!
//! Input layout (so hand-written seeds stay readable):
//! - byte 0: the method, byte 1: the path, byte 2: the content type, each an index into the
//!   tables below (modulo their length); the last entry of `PATHS` and `CONTENT_TYPES` means
//!   "taken from the input": the bytes up to the next `\n`, kept to what a real HTTP host
//!   would pass on (visible ASCII); `application/octet-stream` (the Open Inference
//!   Protocol's binary tensor data) also takes an `Inference-Header-Content-Length` value
//!   from the input that way;
//! - the rest: the body.
//!
//! Every body is also read by the component's JSON reader and by serde_json, which must accept
//! or refuse it alike and read the same values ([`check_reader`]).

use heart_api::{Method, Request, Response};
use heart_model::model::DECISION_THRESHOLD;
use heart_model::MODEL_VERSION;
use heart_wire::json::{self, Kind, Reader};
use heart_wire::limits::{MAX_BATCH, MAX_ERRORS};
use serde_json::Value;

use crate::oracle;

const METHODS: [&str; 9] = [
    "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW",
];
const PATHS: [&str; 21] = [
    "/predict",
    "/health",
    "/model",
    "/v2/models/heart-disease/infer",
    "/v2/models/heart-disease/versions/0/infer",
    "/v2/models/other/infer",
    "/v2/models/heart-disease",
    "/v2/health/ready",
    "/openapi.json",
    "/docs",
    "/v2",
    "/",
    "/predict/",
    "/predict?verbose=1",
    "/PREDICT",
    "//predict",
    "/predict/extra",
    "/health/../predict",
    "/%70redict",
    "/nope",
    "", // from the input
];
const CONTENT_TYPES: [Option<&str>; 10] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("APPLICATION/JSON"),
    None,
    Some("text/plain"),
    Some("application/problem+json"),
    Some("application/jsonx"),
    Some(""),
    Some(BINARY), // and Inference-Header-Content-Length from the input
    Some(""),     // from the input
];
const BINARY: &str = "application/octet-stream";
const HEADER_LENGTH: &str = "inference-header-content-length";

/// Splits off the bytes up to the first `\n`, keeping only visible ASCII.
fn take_line(rest: &mut &[u8]) -> String {
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line: String = rest[..end]
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| b as char)
        .collect();
    *rest = rest.get(end + 1..).unwrap_or(&[]);
    line
}

/// Decodes one input as above, asks [`heart_api::respond`], and panics unless every
/// invariant holds: what the fuzz target runs on each input, and tests/regressions.rs on
/// each committed one.
pub fn check(data: &[u8]) {
    let [m, p, c, rest @ ..] = data else {
        return;
    };
    let mut rest = rest;
    let method_name = METHODS[usize::from(*m) % METHODS.len()];
    let path = match PATHS[usize::from(*p) % PATHS.len()] {
        "" => format!("/{}", take_line(&mut rest).replace(' ', "%20")),
        fixed => fixed.to_string(),
    };
    let content_type = match usize::from(*c) % CONTENT_TYPES.len() {
        i if i == CONTENT_TYPES.len() - 1 => Some(take_line(&mut rest)),
        i => CONTENT_TYPES[i].map(str::to_string),
    };
    let header_length = (content_type.as_deref() == Some(BINARY)).then(|| take_line(&mut rest));
    let body = rest.to_vec();

    let mut headers: Vec<(String, Vec<u8>)> = content_type
        .iter()
        .map(|ct| ("content-type".to_string(), ct.as_bytes().to_vec()))
        .collect();
    headers.extend(
        header_length
            .iter()
            .map(|n| (HEADER_LENGTH.to_string(), n.as_bytes().to_vec())),
    );
    // The component's JSON reader against serde_json, on every body whatever its route.
    check_reader(&body);

    let request = Request::new(Method::from(method_name), &path, headers, body.clone());
    let routed_path = request.path().to_string();

    let response = heart_api::respond(request);
    let protocol = routed_path == "/v2" || routed_path.starts_with("/v2/");
    check_every_response(&response, protocol);
    if protocol && status(&response) == 200 && routed_path.ends_with("/infer") {
        check_inference(&response);
    }

    // The oracle for what reaches the prediction endpoint: the model core on the host.
    let is_json = content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    });
    if routed_path == "/predict" && method_name == "POST" {
        if !is_json {
            assert_eq!(status(&response), 415);
            return;
        }
        check_prediction(&body, &response);
    } else if routed_path == "/health" && ["GET", "HEAD"].contains(&method_name) {
        // HEAD answers what GET does (the host drops the body).
        assert_eq!(status(&response), 200);
        assert_eq!(
            json(&response),
            serde_json::json!({"status": "ok", "model_version": MODEL_VERSION})
        );
    } else if routed_path == "/model" && ["GET", "HEAD"].contains(&method_name) {
        assert_eq!(status(&response), 200);
    } else if ["/predict", "/health", "/model"].contains(&routed_path.as_str()) {
        assert_eq!(status(&response), 405);
        let allow = header(&response, "allow").unwrap_or_default();
        assert_eq!(
            allow,
            if routed_path == "/predict" {
                "POST"
            } else {
                "GET, HEAD"
            }
        );
    }
}

/// The request reader (`heart_wire::json`) and serde_json accept or refuse a body alike, and
/// read the same values from it: the same structure, strings, literals and numbers (exactly:
/// the reader's fast path rounds correctly and hands every other number to serde_json's
/// parser, so that it reads what the service read before it had its own reader), a repeated
/// name keeping its last value (as serde_json's map does).
fn check_reader(body: &[u8]) {
    let ours = read_value(body);
    let theirs = serde_json::from_slice::<Value>(body);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert!(same_value(a, b), "ours {a} vs serde_json {b}"),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "{:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(body),
            ours.map(|_| ()),
            theirs.map(|_| ())
        ),
    }
}

/// The body read by the component's reader, built into a `Value`.
fn read_value(body: &[u8]) -> json::Result<Value> {
    let mut r = Reader::new(body);
    let value = reader_value(&mut r, body)?;
    r.end()?;
    Ok(value)
}

fn reader_value(r: &mut Reader, body: &[u8]) -> json::Result<Value> {
    // Where the next value starts (`peek_kind` has skipped the whitespace before it).
    let kind = r.peek_kind()?;
    let at = body.len() - r.remaining();
    Ok(match kind {
        Kind::Null => {
            r.skip()?;
            Value::Null
        }
        Kind::Boolean => {
            r.skip()?;
            Value::Bool(body[at] == b't')
        }
        Kind::Number => Value::from(r.number()?),
        Kind::String => Value::String(r.string()?.into_owned()),
        Kind::Array => {
            let mut items = r.array()?;
            let mut values = Vec::new();
            while items.next(r)? {
                values.push(reader_value(r, body)?);
            }
            Value::Array(values)
        }
        Kind::Object => {
            let mut members = r.object()?;
            let mut map = serde_json::Map::new();
            while let Some(key) = members.next_key(r)? {
                let key = key.into_owned();
                let value = reader_value(r, body)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
    })
}

/// Equal values, numbers compared as the f64 they are read as (serde_json keeps integers as
/// integers: `1` and `1.0` are the same number here).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

fn status(response: &Response) -> u16 {
    response.status()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.header(name)
}

fn json(response: &Response) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "{} body is not JSON ({e}): {:?}",
            status(response),
            String::from_utf8_lossy(response.body())
        )
    })
}

/// What holds for every answer: a status below 500, the model version header, and a JSON
/// body: RFC 9457 problem details for every error, or the Open Inference Protocol's
/// `{"error"}` under `/v2`. Only `GET /docs` answers something else (HTML).
fn check_every_response(response: &Response, protocol: bool) {
    let code = status(response);
    assert!((200..500).contains(&code), "unexpected status {code}");
    assert!(code == 200 || code >= 400, "unexpected status {code}");
    assert_eq!(header(response, "x-model-version"), Some(MODEL_VERSION));
    let content_type = header(response, "content-type").unwrap_or_default();
    if content_type.starts_with("text/html") {
        assert_eq!(code, 200);
        return;
    }
    if content_type == BINARY {
        // Binary inference outputs: checked by check_inference.
        assert!(code == 200 && protocol, "{code}");
        assert!(header(response, HEADER_LENGTH).is_some());
        return;
    }
    let body = json(response);
    if code >= 400 && !protocol {
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], code);
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
        if let Some(errors) = body.get("errors") {
            let errors = errors.as_array().expect("errors is an array");
            assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS);
            for e in errors {
                assert!(e["field"].is_string() && e["reason"].is_string(), "{e}");
            }
        }
    } else if code >= 400 {
        assert_eq!(content_type, "application/json");
        assert!(body["error"].is_string(), "{body}");
    } else {
        assert_eq!(content_type, "application/json");
    }
    if code == 405 {
        assert!(header(response, "allow").is_some());
    }
}

/// An Open Inference Protocol answer: tensors of one length N, probabilities finite in
/// [0, 1], predictions their 0.5 threshold. Binary outputs (an `application/octet-stream`
/// answer) are decoded first: the JSON header's length in `Inference-Header-Content-Length`,
/// then each binary output's `binary_data_size` bytes, little-endian, in output order.
fn check_inference(response: &Response) {
    let mut answer: Value;
    if let Some(length) = header(response, HEADER_LENGTH) {
        let length: usize = length.parse().expect("a length");
        let (head, mut rest) = response.body().split_at(length);
        answer = serde_json::from_slice(head).expect("a JSON header");
        for o in answer["outputs"].as_array_mut().expect("outputs") {
            let Some(size) = o["parameters"]["binary_data_size"].as_u64() else {
                assert!(o["data"].is_array(), "{o}");
                continue;
            };
            assert!(o.get("data").is_none(), "{o}");
            let (bytes, tail) = rest.split_at(size as usize);
            rest = tail;
            assert_eq!(bytes.len() % 8, 0);
            let data: Vec<Value> = bytes
                .chunks_exact(8)
                .map(|b| {
                    let b: [u8; 8] = b.try_into().unwrap();
                    match o["datatype"].as_str() {
                        Some("FP64") => serde_json::json!(f64::from_le_bytes(b)),
                        Some("INT64") => serde_json::json!(i64::from_le_bytes(b)),
                        other => panic!("datatype {other:?}"),
                    }
                })
                .collect();
            o["data"] = Value::Array(data);
        }
        assert!(
            rest.is_empty(),
            "{} bytes after the binary outputs",
            rest.len()
        );
    } else {
        answer = json(response);
    }
    assert_eq!(answer["model_version"], MODEL_VERSION);
    let outputs = answer["outputs"].as_array().expect("outputs");
    let tensor = |name: &str| {
        outputs
            .iter()
            .find(|o| o["name"] == name)
            .map(|o| o["data"].as_array().expect("data").clone())
    };
    let probability = tensor("probability");
    let prediction = tensor("prediction");
    for o in outputs {
        let n = o["data"].as_array().expect("data").len();
        assert_eq!(o["shape"], serde_json::json!([n]), "{o}");
    }
    if let Some(probability) = &probability {
        for p in probability {
            let p = p.as_f64().expect("FP64");
            assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{p}");
        }
        if let Some(prediction) = &prediction {
            assert_eq!(probability.len(), prediction.len());
            for (p, y) in probability.iter().zip(prediction) {
                let expected = u64::from(p.as_f64().unwrap() >= DECISION_THRESHOLD);
                assert_eq!(y.as_u64(), Some(expected));
            }
        }
    }
}

/// `POST /predict` with a JSON content type: the oracle's verdict on the body (serde_json's
/// reading and the feature table, tests/oracle) decides the status, the fields named and,
/// for a 200, the model core's assessment of each patient.
fn check_prediction(body: &[u8], response: &Response) {
    let answer = json(response);
    let verdict =
        oracle::check_predict_answer(body, status(response), &answer, MAX_BATCH, MAX_ERRORS);
    if let Err(message) = verdict {
        panic!("{message}");
    }
}
