//! The Open Inference Protocol (KServe "V2" REST), beside the native API, so that clients of
//! KServe, Triton, MLServer or Seldon can call the model as `heart-disease`.
//!
//! Inputs: one tensor `patients` of shape [N, 13] in feature order, or one tensor per feature
//! (`age`, `sex`, …) of shape [N]; FP64, FP32 or integer datatypes; data flat (row-major) or
//! nested. `null` marks a missing `slope`/`ca`/`thal` (imputed as in `/predict`), and an absent
//! optional named tensor means all its values are missing. Outputs: `probability` FP64 [N],
//! `prediction` INT64 [N]. Errors are `{"error": "..."}` with 400, or 404 for an unknown model.

use crate::http::{Request, Response};
use api_spec::OIP_DATATYPES;
use heart_model::request::check_batch_size;
use heart_model::schema::{feature_index, FEATURES, N_FEATURES};
use heart_model::{Patient, MODEL, MODEL_VERSION};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::log::BATCH_SIZE_HEADER;
use crate::router::Params;

/// The model's name in the protocol's paths.
pub use api_spec::OIP_MODEL_NAME as MODEL_NAME;

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
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        extensions: [],
    })
}

#[derive(Serialize)]
pub struct ServerMetadata {
    name: &'static str,
    version: &'static str,
    extensions: [&'static str; 0],
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
    if req.header("inference-header-content-length").is_some() {
        return error(
            400,
            "the binary tensor data extension is not supported; send JSON tensors",
        );
    }
    match InferRequest::parse(req.body()) {
        Ok(r) => {
            let n = r.patients.len();
            let mut response = ok(&r.answer());
            response.set_header(BATCH_SIZE_HEADER, n.to_string());
            response
        }
        Err(message) => error(400, &message),
    }
}

/// A parsed, validated inference request.
pub struct InferRequest {
    id: Option<String>,
    patients: Vec<Patient>,
    outputs: Vec<Output>,
}

#[derive(Clone, Copy, PartialEq)]
enum Output {
    Probability,
    Prediction,
}

impl InferRequest {
    /// Parses a request body; the error is the protocol's message.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
        let Value::Object(object) = value else {
            return Err("the body must be a JSON object with \"inputs\"".into());
        };
        check_parameters(&object, "the request")?;
        let id = match object.get("id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("\"id\" must be a string".into()),
        };
        let inputs = match object.get("inputs") {
            Some(Value::Array(inputs)) if !inputs.is_empty() => inputs,
            _ => return Err("\"inputs\" must be a non-empty array of tensors".into()),
        };
        let rows = rows(inputs)?;
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
            problems.truncate(20);
            let more = if total > 20 {
                format!(" (and {} more)", total - 20)
            } else {
                String::new()
            };
            return Err(format!("invalid input: {}{more}", problems.join("; ")));
        }
        Ok(InferRequest {
            id,
            patients,
            outputs: outputs(object.get("outputs"))?,
        })
    }

    fn answer(&self) -> InferResponse<'_> {
        let assessments: Vec<_> = self.patients.iter().map(|p| MODEL.assess(p)).collect();
        let n = [assessments.len()];
        let outputs = self
            .outputs
            .iter()
            .map(|o| match o {
                Output::Probability => OutputTensor {
                    name: "probability",
                    datatype: "FP64",
                    shape: n,
                    data: Data::Fp64(assessments.iter().map(|a| a.probability).collect()),
                },
                Output::Prediction => OutputTensor {
                    name: "prediction",
                    datatype: "INT64",
                    shape: n,
                    data: Data::Int64(assessments.iter().map(|a| a.prediction).collect()),
                },
            })
            .collect();
        InferResponse {
            model_name: MODEL_NAME,
            model_version: MODEL_VERSION,
            id: self.id.as_deref(),
            outputs,
        }
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
    data: Data,
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

fn tensor(value: &Value) -> Result<Tensor<'_>, String> {
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

/// The patients' raw values from either input layout.
fn rows(inputs: &[Value]) -> Result<Vec<[Option<f64>; N_FEATURES]>, String> {
    let tensors: Vec<Tensor> = inputs.iter().map(tensor).collect::<Result<_, _>>()?;
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

fn outputs(requested: Option<&Value>) -> Result<Vec<Output>, String> {
    let Some(requested) = requested else {
        return Ok(vec![Output::Probability, Output::Prediction]);
    };
    let list = requested.as_array().ok_or("\"outputs\" must be an array")?;
    list.iter()
        .map(|o| {
            let object = o
                .as_object()
                .ok_or("every requested output must be an object with a \"name\"")?;
            check_parameters(object, "a requested output")?;
            Ok(o)
        })
        .map(|o: Result<&Value, String>| match o?["name"].as_str() {
            Some("probability") => Ok(Output::Probability),
            Some("prediction") => Ok(Output::Prediction),
            other => Err(format!(
                "unknown output {other:?}; the outputs are \"probability\" and \"prediction\""
            )),
        })
        .collect()
}

fn ok(value: &impl Serialize) -> Response {
    crate::response::json(value)
}

/// The protocol's error body: `{"error": "..."}`.
pub fn error(status: u16, message: &str) -> Response {
    crate::response::json_with_status(status, &Error { error: message })
}

#[derive(Serialize)]
struct Error<'a> {
    error: &'a str,
}
