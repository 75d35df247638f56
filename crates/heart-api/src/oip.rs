//! The Open Inference Protocol (KServe "V2" REST), beside the native API, so that clients of
//! KServe, Triton, MLServer or Seldon can call the model as `heart-disease`.
//!
//! Inputs: one tensor `patients` of shape [N, 13] in feature order, or one tensor per feature
//! (`age`, `sex`, …) of shape [N]; FP64, FP32 or integer datatypes; data flat (row-major) or
//! nested. `null` marks a missing `slope`/`ca`/`thal` (imputed as in `/predict`), and an absent
//! optional named tensor means all its values are missing. Outputs: `probability` FP64 [N],
//! `prediction` INT64 [N]. Errors are `{"error": "..."}` with 400, or 404 for an unknown model.
//!
//! The binary tensor data extension, as Triton and its clients speak it: with an
//! `Inference-Header-Content-Length: L` header, the body is L bytes of JSON and then the raw
//! bytes of the inputs that declare `parameters.binary_data_size` instead of `data`, in input
//! order, each its shape's element count × the datatype's width, little-endian (NaN in a
//! floating-point tensor is a missing value, as `null` is in JSON). An output is answered in
//! binary when the request asks for it — `parameters.binary_data_output: true` for every
//! output, or `parameters.binary_data` on a requested output, which wins — and the answer is
//! then `application/octet-stream`: its JSON (of the length given in
//! `Inference-Header-Content-Length`) lists each binary output with
//! `parameters.binary_data_size` and no `data`, and their bytes follow in output order. With
//! nothing asked for in binary, the answer is plain JSON.
//!
//! The request is read into a `serde_json::Value` and checked by hand, not derived into typed
//! structs: derived structs were measured at +26 KB of `.wasm` (318 KB, over the 300 KiB
//! budget), and keeping that size down while serde's own messages name the offending member
//! took more code (custom visitors) than the checks below. Invalid patients are listed up to
//! [`MAX_ERRORS`], as `/predict` lists invalid fields.

use heart_model::schema::{feature_index, FEATURES, N_FEATURES};
use heart_model::{Patient, MODEL, MODEL_VERSION};
use heart_wire::check_batch_size;
use heart_wire::limits::MAX_ERRORS;
use heart_wire::names::{OIP_DATATYPES, OIP_HEADER_LENGTH};
use serde::Serialize;
use serde_json::{Map, Value};

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

fn infer_response(req: &Request) -> Response {
    match InferRequest::parse(req.body(), req.header(OIP_HEADER_LENGTH)) {
        Ok(r) => {
            let mut response = r.answer();
            response.set_batch_size(r.patients.len());
            response
        }
        Err(message) => error(400, &message),
    }
}

/// A parsed, validated inference request.
pub struct InferRequest {
    id: Option<String>,
    patients: Vec<Patient>,
    /// Each output to answer, and whether in binary.
    outputs: Vec<(Output, bool)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Output {
    Probability,
    Prediction,
}

impl InferRequest {
    /// Parses a request body, with the value of its `Inference-Header-Content-Length` header
    /// if it has one; the error is the protocol's message.
    pub fn parse(body: &[u8], header_length: Option<&str>) -> Result<Self, String> {
        let (json, mut binary) = split_body(body, header_length)?;
        let value: Value = serde_json::from_slice(json).map_err(|e| {
            format!(
                "the {} is not valid JSON: {e}",
                if header_length.is_some() {
                    "inference header"
                } else {
                    "body"
                }
            )
        })?;
        let Value::Object(object) = value else {
            return Err("the body must be a JSON object with \"inputs\"".into());
        };
        check_parameters(&object, "the request")?;
        let binary_by_default = flag(
            object.get("parameters"),
            "binary_data_output",
            "the request",
        )?
        .unwrap_or(false);
        let id = match object.get("id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("\"id\" must be a string".into()),
        };
        let inputs = match object.get("inputs") {
            Some(Value::Array(inputs)) if !inputs.is_empty() => inputs,
            _ => return Err("\"inputs\" must be a non-empty array of tensors".into()),
        };
        let rows = rows(inputs, &mut binary)?;
        if !binary.is_empty() {
            return Err(format!(
                "{} bytes of binary tensor data are left over after the inputs' binary_data_size",
                binary.len()
            ));
        }
        let mut patients = Vec::with_capacity(rows.len());
        let mut problems = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            match Patient::from_values(row) {
                Ok(p) => patients.push(p),
                Err(errors) => problems.extend(
                    errors
                        .iter()
                        .map(|e| format!("patient {i}: {} {}", &e.field[1..], e.reason)),
                ),
            }
        }
        if !problems.is_empty() {
            let total = problems.len();
            problems.truncate(MAX_ERRORS);
            let more = if total > MAX_ERRORS {
                format!(" (and {} more)", total - MAX_ERRORS)
            } else {
                String::new()
            };
            return Err(format!("invalid input: {}{more}", problems.join("; ")));
        }
        Ok(InferRequest {
            id,
            patients,
            outputs: outputs(object.get("outputs"), binary_by_default)?,
        })
    }

    /// The answer: JSON, or, when an output is asked for in binary, the JSON header and the
    /// binary outputs' bytes after it.
    fn answer(&self) -> Response {
        let assessments: Vec<_> = self.patients.iter().map(|p| MODEL.assess(p)).collect();
        let n = [assessments.len()];
        let mut bytes = Vec::new();
        let outputs = self
            .outputs
            .iter()
            .map(|&(output, binary)| {
                let (name, datatype, data) = match output {
                    Output::Probability => (
                        "probability",
                        "FP64",
                        Data::Fp64(assessments.iter().map(|a| a.probability).collect()),
                    ),
                    Output::Prediction => (
                        "prediction",
                        "INT64",
                        Data::Int64(assessments.iter().map(|a| a.prediction).collect()),
                    ),
                };
                let mut tensor = OutputTensor {
                    name,
                    datatype,
                    shape: n,
                    parameters: None,
                    data: None,
                };
                if binary {
                    let start = bytes.len();
                    match data {
                        Data::Fp64(xs) => xs.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
                        Data::Int64(ys) => ys
                            .iter()
                            .for_each(|&y| bytes.extend(i64::from(y).to_le_bytes())),
                    }
                    tensor.parameters = Some(BinaryParameters {
                        binary_data_size: bytes.len() - start,
                    });
                } else {
                    tensor.data = Some(data);
                }
                tensor
            })
            .collect();
        let header = InferResponse {
            model_name: MODEL_NAME,
            model_version: MODEL_VERSION,
            id: self.id.as_deref(),
            outputs,
        };
        if !self.outputs.iter().any(|&(_, binary)| binary) {
            return ok(&header);
        }
        // Serialising our own plain structs to memory cannot fail.
        let mut body = serde_json::to_vec(&header).unwrap_or_default();
        let header_length = body.len();
        body.extend_from_slice(&bytes);
        let mut response = typed(200, "application/octet-stream", body);
        response.set_header("inference-header-content-length", header_length.to_string());
        response
    }
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'static str,
    model_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<OutputTensor>,
}

#[derive(Serialize)]
struct OutputTensor {
    name: &'static str,
    datatype: &'static str,
    shape: [usize; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinaryParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data>,
}

/// A binary output's `parameters`.
#[derive(Serialize)]
struct BinaryParameters {
    binary_data_size: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Fp64(Vec<f64>),
    Int64(Vec<u8>),
}

/// One tensor of the request, checked against its declared shape.
struct Tensor<'a> {
    name: &'a str,
    shape: Vec<usize>,
    data: Vec<Option<f64>>,
}

/// The protocol's optional `parameters` must be an object where present.
fn check_parameters(object: &Map<String, Value>, what: &str) -> Result<(), String> {
    match object.get("parameters") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(format!("\"parameters\" of {what} must be an object")),
    }
}

/// A boolean parameter (`None` when not given) from an already checked `parameters`.
fn flag(parameters: Option<&Value>, name: &str, what: &str) -> Result<Option<bool>, String> {
    match parameters.and_then(|p| p.get(name)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("parameters.{name} of {what} must be true or false")),
    }
}

/// The body's JSON and the binary tensor data after it, split where
/// `Inference-Header-Content-Length` says; without that header the whole body is JSON.
fn split_body<'a>(
    body: &'a [u8],
    header_length: Option<&str>,
) -> Result<(&'a [u8], &'a [u8]), String> {
    let Some(value) = header_length else {
        return Ok((body, &[]));
    };
    let length = value
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("{OIP_HEADER_LENGTH} must be the length in bytes of the JSON at the start of the body, found {value:?}"))?;
    if length > body.len() {
        return Err(format!(
            "{OIP_HEADER_LENGTH} is {length}, beyond the body's {} bytes",
            body.len()
        ));
    }
    Ok(body.split_at(length))
}

/// How wide one element of `datatype` is on the wire, and how to read it as an f64.
fn element(datatype: &str) -> (usize, fn(&[u8]) -> f64) {
    fn le<const N: usize>(b: &[u8]) -> [u8; N] {
        std::array::from_fn(|i| b[i])
    }
    match datatype {
        "FP64" => (8, |b| f64::from_le_bytes(le(b))),
        "FP32" => (4, |b| f64::from(f32::from_le_bytes(le(b)))),
        "INT64" => (8, |b| i64::from_le_bytes(le(b)) as f64),
        "INT32" => (4, |b| f64::from(i32::from_le_bytes(le(b)))),
        "INT16" => (2, |b| f64::from(i16::from_le_bytes(le(b)))),
        "INT8" => (1, |b| f64::from(b[0] as i8)),
        "UINT64" => (8, |b| u64::from_le_bytes(le(b)) as f64),
        "UINT32" => (4, |b| f64::from(u32::from_le_bytes(le(b)))),
        "UINT16" => (2, |b| f64::from(u16::from_le_bytes(le(b)))),
        // UINT8, the only other datatype `tensor` lets through.
        _ => (1, |b| f64::from(b[0])),
    }
}

/// An input's values from its raw bytes, taken from the front of `binary`: `size` bytes, which
/// must be exactly what `shape` needs of `datatype`. NaN is a missing value.
fn binary_data(
    name: &str,
    datatype: &str,
    shape: &[usize],
    size: u64,
    binary: &mut &[u8],
) -> Result<Vec<Option<f64>>, String> {
    let (width, read) = element(datatype);
    let needed = shape.iter().try_fold(width, |acc, d| acc.checked_mul(*d));
    let Some(needed) = needed.filter(|&n| n as u64 == size) else {
        let needed = needed.map_or("more than 2^64".into(), |n| n.to_string());
        return Err(format!(
            "input {name:?}: binary_data_size is {size} bytes, but shape {shape:?} of {datatype} takes {needed} bytes"
        ));
    };
    if needed > binary.len() {
        return Err(format!(
            "input {name:?}: binary_data_size is {size} bytes, but only {} bytes of binary data are left after the inference header and the inputs before it",
            binary.len()
        ));
    }
    let (mine, rest) = binary.split_at(needed);
    *binary = rest;
    Ok(mine
        .chunks_exact(width)
        .map(|b| Some(read(b)).filter(|x| !x.is_nan()))
        .collect())
}

/// One input tensor; an input with `parameters.binary_data_size` takes its values from the
/// front of `binary`.
fn tensor<'a>(value: &'a Value, binary: &mut &[u8]) -> Result<Tensor<'a>, String> {
    let object = value
        .as_object()
        .ok_or("every input must be a tensor object")?;
    let name = value["name"]
        .as_str()
        .ok_or("every input needs a string \"name\"")?;
    check_parameters(object, &format!("input {name:?}"))?;
    let datatype = value["datatype"].as_str().unwrap_or("");
    if !OIP_DATATYPES.contains(&datatype) {
        return Err(format!(
            "input {name:?}: datatype must be one of {}, found {datatype:?}",
            OIP_DATATYPES.join(", ")
        ));
    }
    let shape: Vec<usize> = value["shape"]
        .as_array()
        .and_then(|dims| {
            dims.iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect()
        })
        .ok_or_else(|| {
            format!("input {name:?}: \"shape\" must be an array of non-negative integers")
        })?;
    let binary_size = match object
        .get("parameters")
        .and_then(|p| p.get("binary_data_size"))
    {
        None => None,
        Some(size) => Some(size.as_u64().ok_or_else(|| {
            format!("input {name:?}: parameters.binary_data_size must be a non-negative integer")
        })?),
    };
    if let Some(size) = binary_size {
        if object.contains_key("data") {
            return Err(format!(
                "input {name:?}: give either \"data\" or parameters.binary_data_size, not both"
            ));
        }
        let data = binary_data(name, datatype, &shape, size, binary)?;
        return Ok(Tensor { name, shape, data });
    }
    let mut data = Vec::new();
    flatten(&value["data"], &mut data, 0).map_err(|e| format!("input {name:?}: {e}"))?;
    let expected = shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
    if expected != Some(data.len()) {
        return Err(format!(
            "input {name:?}: shape {shape:?} needs {} values, data has {}",
            expected.unwrap_or(usize::MAX),
            data.len()
        ));
    }
    Ok(Tensor { name, shape, data })
}

/// Row-major values of (possibly nested) tensor data; `null` is a missing value.
fn flatten(value: &Value, out: &mut Vec<Option<f64>>, depth: usize) -> Result<(), String> {
    match value {
        Value::Array(items) if depth < 2 => items.iter().try_for_each(|v| flatten(v, out, depth + 1)),
        Value::Number(n) if depth > 0 => {
            out.push(n.as_f64());
            Ok(())
        }
        Value::Null if depth > 0 => {
            out.push(None);
            Ok(())
        }
        _ if depth == 0 => Err("\"data\" must be an array".into()),
        _ => Err("data must hold numbers (or null for a missing slope, ca or thal), nested at most as deep as the shape".into()),
    }
}

/// The patients' raw values from either input layout; binary inputs take their bytes from the
/// front of `binary`, in input order.
fn rows(inputs: &[Value], binary: &mut &[u8]) -> Result<Vec<[Option<f64>; N_FEATURES]>, String> {
    let tensors: Vec<Tensor> = inputs
        .iter()
        .map(|input| tensor(input, binary))
        .collect::<Result<_, _>>()?;
    let rows = match tensors.as_slice() {
        [t] if t.name == "patients" => {
            if t.shape.len() != 2 || t.shape[1] != N_FEATURES {
                return Err(format!(
                    "input \"patients\" must have shape [N, {N_FEATURES}], found {:?}",
                    t.shape
                ));
            }
            // `tensor` checked that the data fills the shape, so every chunk has 13 values.
            t.data
                .chunks_exact(N_FEATURES)
                .map(|c| std::array::from_fn(|i| c[i]))
                .collect()
        }
        _ => named(&tensors)?,
    };
    check_rows(rows)
}

fn check_rows(
    rows: Vec<[Option<f64>; N_FEATURES]>,
) -> Result<Vec<[Option<f64>; N_FEATURES]>, String> {
    check_batch_size(rows.len()).map_err(|e| format!("the inputs {}", e.reason))?;
    Ok(rows)
}

fn named(tensors: &[Tensor]) -> Result<Vec<[Option<f64>; N_FEATURES]>, String> {
    let n = tensors[0].data.len();
    let mut columns: [Option<&Tensor>; N_FEATURES] = [None; N_FEATURES];
    for t in tensors {
        let i = feature_index(t.name).ok_or_else(|| {
            format!(
                "unknown input {:?}: send \"patients\" [N, {N_FEATURES}] or one tensor per feature",
                t.name
            )
        })?;
        if columns[i].is_some() {
            return Err(format!("input {:?} is given twice", t.name));
        }
        if !(t.shape == [n] || t.shape == [n, 1]) {
            return Err(format!(
                "input {:?} must have shape [{n}] like the other inputs, found {:?}",
                t.name, t.shape
            ));
        }
        columns[i] = Some(t);
    }
    let missing: Vec<&str> = FEATURES
        .iter()
        .zip(&columns)
        .filter(|(f, c)| f.required && c.is_none())
        .map(|(f, _)| f.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing input tensor(s): {}", missing.join(", ")));
    }
    Ok((0..n)
        .map(|r| std::array::from_fn(|i| columns[i].and_then(|t| t.data[r])))
        .collect())
}

/// The outputs to answer, each with whether it goes in binary: its own
/// `parameters.binary_data` when given, else `binary_by_default` (the request's
/// `parameters.binary_data_output`).
fn outputs(
    requested: Option<&Value>,
    binary_by_default: bool,
) -> Result<Vec<(Output, bool)>, String> {
    let Some(requested) = requested else {
        return Ok(vec![
            (Output::Probability, binary_by_default),
            (Output::Prediction, binary_by_default),
        ]);
    };
    let list = requested.as_array().ok_or("\"outputs\" must be an array")?;
    list.iter()
        .map(|o| {
            let object = o
                .as_object()
                .ok_or("every requested output must be an object with a \"name\"")?;
            check_parameters(object, "a requested output")?;
            let output = match o["name"].as_str() {
                Some("probability") => Output::Probability,
                Some("prediction") => Output::Prediction,
                other => return Err(unknown_output(other)),
            };
            let binary = flag(
                object.get("parameters"),
                "binary_data",
                "a requested output",
            )?;
            Ok((output, binary.unwrap_or(binary_by_default)))
        })
        .collect()
}

fn unknown_output(name: Option<&str>) -> String {
    format!("unknown output {name:?}; the outputs are \"probability\" and \"prediction\"")
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
    use serde_json::json;

    const ROWS: [[f64; N_FEATURES]; 2] = [
        [
            63.0, 1.0, 1.0, 145.0, 233.0, 1.0, 2.0, 150.0, 0.0, 2.3, 3.0, 0.0, 6.0,
        ],
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
        let probabilities: Vec<f64> = want["outputs"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        let predictions: Vec<f64> = want["outputs"][1]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
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
