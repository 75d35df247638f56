//! The Open Inference Protocol (KServe "V2" REST), beside the native API, so that clients of
//! KServe, Triton, MLServer or Seldon can call the model as `heart-disease`.
//!
//! Inputs: one tensor `patients` of shape [N, 13] in feature order, or one tensor per feature
//! (`age`, `sex`, …) of shape [N]; FP64, FP32 or integer datatypes; data flat (row-major) or
//! nested. `null` marks a missing `slope`/`ca`/`thal` (imputed as in `/predict`), and an absent
//! optional named tensor means all its values are missing. Outputs: `probability` FP64 [N],
//! `prediction` INT64 [N]. Errors are `{"error": "..."}` with 400, or 404 for an unknown model.
//!
//! The endpoints only: which model and version a path names, the metadata, and the infer
//! handler around [`heart_wire::oip`], the codec that decodes a request (JSON or the binary
//! tensor data extension) into patients and encodes the answer. What the protocol accepts and
//! answers is described there.

use heart_model::schema::{FEATURES, N_FEATURES};
use heart_model::{MODEL, MODEL_VERSION};
use heart_wire::names::OIP_HEADER_LENGTH;
use heart_wire::oip::InferRequest;
use serde::Serialize;

use crate::answer::{json, json_with_status, typed};
use crate::http::{Request, Response};
use crate::router::Params;

/// The model's name in the protocol's paths.
pub use heart_wire::names::OIP_MODEL_NAME as MODEL_NAME;

/// The server's name and version in `GET /v2`: the component's (`heart-disease-api` 0.1.0),
/// written out here because this crate is not the component and Cargo's `CARGO_PKG_*` would
/// name `heart-api`.
pub const SERVER_NAME: &str = "heart-disease-api";
pub const SERVER_VERSION: &str = "0.1.0";

/// `GET /v2/health/live`.
pub fn live(_: &Request, _: &Params) -> Response {
    ok(&Live { live: true })
}

/// `GET /v2/health/ready`.
pub fn ready(_: &Request, _: &Params) -> Response {
    ok(&Ready {
        name: None,
        ready: true,
    })
}

/// `GET /v2/models/heart-disease[/versions/V]/ready`.
pub fn model_ready(_: &Request, params: &Params) -> Response {
    with_model(params, || {
        ok(&Ready {
            name: Some(MODEL_NAME),
            ready: true,
        })
    })
}

/// `GET /v2/models/heart-disease[/versions/V]`.
pub fn model_metadata(_: &Request, params: &Params) -> Response {
    with_model(params, || ok(&metadata()))
}

/// `POST /v2/models/heart-disease[/versions/V]/infer`.
pub fn infer(req: &Request, params: &Params) -> Response {
    with_model(params, || infer_response(req))
}

/// `GET /v2`.
pub fn server_metadata(_: &Request, _: &Params) -> Response {
    ok(&ServerMetadata {
        name: SERVER_NAME,
        version: SERVER_VERSION,
        extensions: ["binary_tensor_data"],
    })
}

#[derive(Serialize)]
pub struct ServerMetadata {
    name: &'static str,
    version: &'static str,
    extensions: [&'static str; 1],
}

/// The model's metadata.
pub fn metadata() -> ModelMetadata {
    ModelMetadata {
        name: MODEL_NAME,
        versions: [MODEL_VERSION],
        platform: "rust-wasm-logistic-regression",
        inputs: [TensorMetadata { name: "patients", datatype: "FP64", shape: &[-1, N_FEATURES as i64] }],
        outputs: [
            TensorMetadata { name: "probability", datatype: "FP64", shape: &[-1] },
            TensorMetadata { name: "prediction", datatype: "INT64", shape: &[-1] },
        ],
        parameters: MetadataParameters {
            feature_order: FEATURES.map(|f| f.name),
            alternative_inputs: "one tensor per feature, named as in feature_order, each of shape [-1]",
            missing_values: "null for slope, ca or thal (imputed); an absent optional named tensor is all missing",
        },
    }
}

#[derive(Serialize)]
pub struct ModelMetadata {
    name: &'static str,
    versions: [&'static str; 1],
    platform: &'static str,
    inputs: [TensorMetadata; 1],
    outputs: [TensorMetadata; 2],
    parameters: MetadataParameters,
}

#[derive(Serialize)]
struct TensorMetadata {
    name: &'static str,
    datatype: &'static str,
    shape: &'static [i64],
}

#[derive(Serialize)]
struct MetadataParameters {
    feature_order: [&'static str; N_FEATURES],
    alternative_inputs: &'static str,
    missing_values: &'static str,
}

#[derive(Serialize)]
struct Ready {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    ready: bool,
}

#[derive(Serialize)]
struct Live {
    live: bool,
}

/// Answers for `heart-disease` (at its one version) and 404 for any other model.
fn with_model(params: &Params, answer: impl FnOnce() -> Response) -> Response {
    let model = params.get("model").unwrap_or_default();
    if model != MODEL_NAME {
        return error(
            404,
            &format!("unknown model {model:?}; this server serves {MODEL_NAME:?}"),
        );
    }
    match params.get("version") {
        Some(v) if v != MODEL_VERSION => error(
            404,
            &format!("unknown version {v:?} of {MODEL_NAME}; the version is {MODEL_VERSION:?}"),
        ),
        _ => answer(),
    }
}

/// An infer request decoded, assessed and encoded by [`heart_wire::oip`]; a refusal is its
/// error's message.
fn infer_response(req: &Request) -> Response {
    match InferRequest::parse(req.body(), req.header(OIP_HEADER_LENGTH)) {
        Ok(r) => {
            let encoded = r.answer(&MODEL, MODEL_VERSION);
            let mut response = typed(200, encoded.media_type, encoded.body);
            if let Some(n) = encoded.header_length {
                response.set_header("inference-header-content-length", n.to_string());
            }
            response.set_batch_size(r.patients().len());
            response
        }
        Err(refusal) => error(400, &refusal.to_string()),
    }
}

fn ok(value: &impl Serialize) -> Response {
    json(value)
}

/// The protocol's error body: `{"error": "..."}`.
pub fn error(status: u16, message: &str) -> Response {
    json_with_status(status, &Error { error: message })
}

#[derive(Serialize)]
struct Error<'a> {
    error: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use heart_wire::limits::MAX_ERRORS;
    use serde_json::{json, Value};

    const ROWS: [[f64; N_FEATURES]; 2] = [
        heart_model::schema::EXAMPLE,
        [
            67.0, 1.0, 4.0, 160.0, 286.0, 0.0, 2.0, 108.0, 1.0, 1.5, 2.0, 3.0, 3.0,
        ],
    ];
    const INFER: &str = "/v2/models/heart-disease/infer";

    fn post(header_length: Option<usize>, body: Vec<u8>) -> Response {
        let headers = header_length
            .map(|n| vec![(OIP_HEADER_LENGTH.to_string(), n.to_string().into_bytes())])
            .unwrap_or_default();
        crate::respond(Request::new(Method::Post, INFER, headers, body))
    }

    /// A JSON header and binary data after it, as tritonclient sends them.
    fn binary_request(header: Value, data: &[u8]) -> (usize, Vec<u8>) {
        let mut body = serde_json::to_vec(&header).unwrap();
        let n = body.len();
        body.extend_from_slice(data);
        (n, body)
    }

    fn fp64_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
        values.into_iter().flat_map(f64::to_le_bytes).collect()
    }

    /// The answer's JSON part and its binary outputs, decoded.
    fn decode(response: &Response) -> (Value, Vec<(String, Vec<f64>)>) {
        assert_eq!(
            response.status(),
            200,
            "{}",
            String::from_utf8_lossy(response.body())
        );
        let Some(n) = response.header("inference-header-content-length") else {
            assert_eq!(response.header("content-type"), Some("application/json"));
            return (serde_json::from_slice(response.body()).unwrap(), vec![]);
        };
        assert_eq!(
            response.header("content-type"),
            Some("application/octet-stream")
        );
        let n: usize = n.parse().unwrap();
        let (json, mut rest) = response.body().split_at(n);
        let header: Value = serde_json::from_slice(json).unwrap();
        let mut binary = Vec::new();
        for o in header["outputs"].as_array().unwrap() {
            let Some(size) = o["parameters"]["binary_data_size"].as_u64() else {
                continue;
            };
            assert!(o.get("data").is_none(), "{o}");
            let (mine, tail) = rest.split_at(size as usize);
            rest = tail;
            let values = mine
                .chunks_exact(8)
                .map(|b| match o["datatype"].as_str() {
                    Some("FP64") => f64::from_le_bytes(b.try_into().unwrap()),
                    Some("INT64") => i64::from_le_bytes(b.try_into().unwrap()) as f64,
                    other => panic!("{other:?}"),
                })
                .collect();
            binary.push((o["name"].as_str().unwrap().to_string(), values));
        }
        assert!(rest.is_empty(), "{} bytes too many", rest.len());
        (header, binary)
    }

    fn json_answer() -> Value {
        let body = json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": ROWS}]});
        let response = post(None, serde_json::to_vec(&body).unwrap());
        decode(&response).0
    }

    #[test]
    fn binary_inputs_and_outputs_answer_what_json_does() {
        let want = json_answer();
        let output = |i: usize| -> Vec<f64> {
            let data = want["outputs"][i]["data"].as_array().unwrap();
            data.iter().map(|p| p.as_f64().unwrap()).collect()
        };
        let (probabilities, predictions) = (output(0), output(1));
        // What tritonclient sends with every default: binary input, no outputs listed.
        let (n, body) = binary_request(
            json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                               "parameters": {"binary_data_size": 2 * 13 * 8}}],
                   "parameters": {"binary_data_output": true}}),
            &fp64_bytes(ROWS.concat()),
        );
        let response = post(Some(n), body);
        let (header, binary) = decode(&response);
        // serde_json reads decimal text back to within an ulp, not always exactly.
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-15)
        };
        assert_eq!(binary.len(), 2);
        assert_eq!(
            (binary[0].0.as_str(), binary[1].0.as_str()),
            ("probability", "prediction")
        );
        assert!(close(&binary[0].1, &probabilities), "{binary:?}");
        assert_eq!(binary[1].1, predictions);
        assert_eq!(header["outputs"][0]["shape"], json!([2]));
        assert_eq!(header["outputs"][0]["parameters"]["binary_data_size"], 16);
        assert_eq!(response.header("x-batch-size"), Some("2"));
        // Binary input, JSON output (nothing asks for binary): plain JSON, equal to the JSON answer.
        let (n, body) = binary_request(
            json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                               "parameters": {"binary_data_size": 2 * 13 * 8}}]}),
            &fp64_bytes(ROWS.concat()),
        );
        assert_eq!(decode(&post(Some(n), body)), (want.clone(), vec![]));
        // JSON input; an output's own binary_data wins over the request's default.
        let body = json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": ROWS}],
                          "parameters": {"binary_data_output": true},
                          "outputs": [{"name": "prediction", "parameters": {"binary_data": false}},
                                      {"name": "probability"}]});
        let (header, binary) = decode(&post(None, serde_json::to_vec(&body).unwrap()));
        assert_eq!(binary.len(), 1);
        assert_eq!(binary[0].0, "probability");
        assert!(close(&binary[0].1, &probabilities), "{binary:?}");
        assert_eq!(header["outputs"][0]["data"], want["outputs"][1]["data"]);
    }

    #[test]
    fn every_datatype_is_read_little_endian_and_nan_is_missing() {
        let want = json_answer();
        // Named tensors of every datatype (every value here is whole but oldpeak, sent as FP32).
        let columns: Vec<Vec<f64>> = (0..N_FEATURES)
            .map(|i| ROWS.iter().map(|r| r[i]).collect())
            .collect();
        let types = [
            "UINT8", "INT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64", "FP64",
            "FP32", "FP64", "UINT8", "INT32",
        ];
        let mut inputs = Vec::new();
        let mut data = Vec::new();
        for ((f, column), datatype) in FEATURES.iter().zip(&columns).zip(types) {
            let start = data.len();
            for &x in column {
                match datatype {
                    "UINT8" => data.push(x as u8),
                    "INT8" => data.push(x as i8 as u8),
                    "INT16" => data.extend((x as i16).to_le_bytes()),
                    "UINT16" => data.extend((x as u16).to_le_bytes()),
                    "INT32" => data.extend((x as i32).to_le_bytes()),
                    "UINT32" => data.extend((x as u32).to_le_bytes()),
                    "INT64" => data.extend((x as i64).to_le_bytes()),
                    "UINT64" => data.extend((x as u64).to_le_bytes()),
                    "FP32" => data.extend((x as f32).to_le_bytes()),
                    _ => data.extend(x.to_le_bytes()),
                }
            }
            inputs.push(json!({"name": f.name, "shape": [2], "datatype": datatype,
                               "parameters": {"binary_data_size": data.len() - start}}));
        }
        let (n, body) = binary_request(json!({ "inputs": inputs }), &data);
        let (got, _) = decode(&post(Some(n), body));
        // oldpeak went as FP32 (2.3f32 ≠ 2.3), so compare within float precision.
        for (a, b) in got["outputs"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .zip(want["outputs"][0]["data"].as_array().unwrap())
        {
            assert!(
                (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6,
                "{a} {b}"
            );
        }
        // NaN marks a missing value: imputed for ca, refused for age.
        let mut rows = ROWS;
        rows[0][11] = f64::NAN;
        let (n, body) = binary_request(
            json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                               "parameters": {"binary_data_size": 208}}]}),
            &fp64_bytes(rows.concat()),
        );
        let (with_nan, _) = decode(&post(Some(n), body));
        let mut nulls = serde_json::to_value(ROWS).unwrap();
        nulls[0][11] = Value::Null;
        let body = json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": nulls}]});
        assert_eq!(
            with_nan,
            decode(&post(None, serde_json::to_vec(&body).unwrap())).0
        );
        rows[1][0] = f64::NAN;
        let (n, body) = binary_request(
            json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                               "parameters": {"binary_data_size": 208}}]}),
            &fp64_bytes(rows.concat()),
        );
        let response = post(Some(n), body);
        assert_eq!(response.status(), 400);
        assert!(String::from_utf8_lossy(response.body()).contains("patient 1: age is required"));
    }

    #[test]
    fn bad_binary_requests_are_400_with_an_error() {
        let tensor = |size: Value| {
            json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                               "parameters": {"binary_data_size": size}}]})
        };
        let all = fp64_bytes(ROWS.concat());
        let cases: Vec<(&str, Option<String>, Vec<u8>, &str)> = vec![
            {
                let (n, body) = binary_request(tensor(json!(200)), &all[..200]);
                (
                    "size not shape × width",
                    Some(n.to_string()),
                    body,
                    "takes 208 bytes",
                )
            },
            {
                let (n, body) = binary_request(tensor(json!(208)), &all[..100]);
                (
                    "fewer bytes than declared",
                    Some(n.to_string()),
                    body,
                    "only 100 bytes",
                )
            },
            {
                let (n, mut body) = binary_request(tensor(json!(208)), &all);
                body.push(0);
                (
                    "bytes left over",
                    Some(n.to_string()),
                    body,
                    "1 bytes of binary tensor data are left over",
                )
            },
            {
                let (_, body) = binary_request(tensor(json!(208)), &all);
                let n = body.len() + 1;
                (
                    "header length beyond the body",
                    Some(n.to_string()),
                    body,
                    "beyond the body",
                )
            },
            {
                let (_, body) = binary_request(tensor(json!(208)), &all);
                (
                    "header length not a number",
                    Some("x".to_string()),
                    body,
                    "must be the length",
                )
            },
            {
                let (n, body) = binary_request(tensor(json!(208)), &all);
                (
                    "header length too short",
                    Some((n - 1).to_string()),
                    body,
                    "not valid JSON",
                )
            },
            {
                let (_, body) = binary_request(tensor(json!(208)), &[]);
                (
                    "binary_data_size without the header",
                    None,
                    body,
                    "only 0 bytes",
                )
            },
            {
                let (n, body) = binary_request(tensor(json!(-8)), &all);
                (
                    "negative size",
                    Some(n.to_string()),
                    body,
                    "non-negative integer",
                )
            },
            {
                let mut header = tensor(json!(208));
                header["inputs"][0]["data"] = json!([1]);
                let (n, body) = binary_request(header, &all);
                (
                    "data and binary_data_size",
                    Some(n.to_string()),
                    body,
                    "not both",
                )
            },
            {
                let mut header = tensor(json!(208));
                header["parameters"] = json!({"binary_data_output": "yes"});
                let (n, body) = binary_request(header, &all);
                (
                    "binary_data_output not a boolean",
                    Some(n.to_string()),
                    body,
                    "true or false",
                )
            },
        ];
        for (name, header_length, body, says) in cases {
            let headers = header_length
                .map(|v| vec![(OIP_HEADER_LENGTH.to_string(), v.into_bytes())])
                .unwrap_or_default();
            let response = crate::respond(Request::new(Method::Post, INFER, headers, body));
            assert_eq!(response.status(), 400, "{name}");
            assert_eq!(
                response.header("content-type"),
                Some("application/json"),
                "{name}"
            );
            let error: Value = serde_json::from_slice(response.body()).unwrap();
            let message = error["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {error}"));
            assert!(message.contains(says), "{name}: {message}");
        }
    }

    /// The message of a 400 answer to a JSON body.
    fn refusal(body: Value) -> String {
        let response = post(None, serde_json::to_vec(&body).unwrap());
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = serde_json::from_slice(response.body()).unwrap();
        error["error"].as_str().unwrap().to_string()
    }

    #[test]
    fn unknown_members_are_ignored_and_a_null_is_a_missing_value() {
        let mut rows = serde_json::to_value(ROWS).unwrap();
        rows[0][11] = Value::Null;
        let body = json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": rows,
                                      "parameters": {"shared_memory_region": "x"}, "extra": 1}],
                          "outputs": [{"name": "probability", "parameters": {"classification": 0}, "extra": {}}],
                          "parameters": {"priority": 1}, "extra": [1]});
        let (answer, _) = decode(&post(None, serde_json::to_vec(&body).unwrap()));
        assert_eq!(answer["outputs"].as_array().unwrap().len(), 1);
        // Flat data answers what nested data does.
        let flat = json!({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": ROWS.concat()}]});
        assert_eq!(
            decode(&post(None, serde_json::to_vec(&flat).unwrap())).0,
            json_answer()
        );
    }

    #[test]
    fn invalid_patients_are_listed_up_to_max_errors() {
        let n = 30; // 30 patients without age, sex, cp or trestbps: 120 problems
        let mut row: Vec<Value> = ROWS[0].iter().map(|&x| json!(x)).collect();
        row[..4].fill(Value::Null);
        let body = json!({"inputs": [{"name": "patients", "shape": [n, 13], "datatype": "FP64", "data": vec![row; n]}]});
        let message = refusal(body);
        assert_eq!(message.matches("patient ").count(), MAX_ERRORS, "{message}");
        assert!(
            message.ends_with(&format!(" (and {} more)", 4 * n - MAX_ERRORS)),
            "{message}"
        );
    }
}
