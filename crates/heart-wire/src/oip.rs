//! The Open Inference Protocol's codec (KServe "V2" REST): an infer request's body read into
//! patients, and the answer written, as bytes and a media type. Pure functions beside the
//! JSON reader, so the fuzzer, the property tests and the benchmarks reach them natively; the
//! service (`heart-api`) keeps only the handlers around them.
//!
//! Inputs: one tensor `patients` of shape [N, 13] in feature order, or one tensor per feature
//! (`age`, `sex`, …) of shape [N]; FP64, FP32 or integer datatypes; data flat (row-major) or
//! nested. `null` marks a missing `slope`/`ca`/`thal` (imputed as in `/predict`), and an absent
//! optional named tensor means all its values are missing. Outputs: `probability` FP64 [N],
//! `prediction` INT64 [N]. A refused request is an [`InferError`], whose `Display` is the
//! protocol's message.
//!
//! The binary tensor data extension, as Triton and its clients speak it: with an
//! `Inference-Header-Content-Length: L` header, the body is L bytes of JSON and then the raw
//! bytes of the inputs that declare `parameters.binary_data_size` instead of `data`, in input
//! order, each its shape's element count × the datatype's width, little-endian (NaN in a
//! floating-point tensor is a missing value, as `null` is in JSON). An output is answered in
//! binary when the request asks for it — `parameters.binary_data_output: true` for every
//! output, or `parameters.binary_data` on a requested output, which wins — and the answer is
//! then `application/octet-stream`: its JSON (of the length given in
//! `Inference-Header-Content-Length`, [`Encoded::header_length`]) lists each binary output
//! with `parameters.binary_data_size` and no `data`, and their bytes follow in output order.
//! With nothing asked for in binary, the answer is plain JSON.
//!
//! The request is read into a `serde_json::Value` and checked by hand, not derived into typed
//! structs: derived structs took the `.wasm` over its 300 KiB budget (measured: bench/notes.md,
//! "Tried and not kept", rendered into bench/RESULTS.md), and keeping that size down while
//! serde's own messages name the offending member took more code (custom visitors) than the
//! checks below. Invalid patients are listed up to
//! [`MAX_ERRORS`], as `/predict` lists invalid fields.
//!
//! The error is an enum rather than the message itself so that callers (and tests) can tell
//! the refusals apart; the message is written only when it is displayed.

use std::fmt;

use heart_model::schema::{feature_index, FEATURES, N_FEATURES};
use heart_model::{FieldError, LogisticModel, Patient};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::check_batch_size;
use crate::limits::MAX_ERRORS;
use crate::names::{OIP_DATATYPES, OIP_HEADER_LENGTH, OIP_MODEL_NAME};

/// An encoded answer: its bytes, their media type, and for a binary answer the length of the
/// JSON at its start (the `Inference-Header-Content-Length` to send with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub body: Vec<u8>,
    pub media_type: &'static str,
    pub header_length: Option<usize>,
}

/// The part of a request a misplaced `parameters` belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Request,
    Input(String),
    Output,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Request => f.write_str("the request"),
            Part::Input(name) => write!(f, "input {name:?}"),
            Part::Output => f.write_str("a requested output"),
        }
    }
}

/// Why an infer request is refused (the protocol answers 400 with `{"error": message}`, the
/// message being this error displayed).
#[derive(Debug, Clone, PartialEq)]
pub enum InferError {
    /// The body — or, with `Inference-Header-Content-Length`, its JSON header — is not JSON.
    Json {
        in_header: bool,
        message: String,
    },
    NotAnObject,
    /// `parameters` of this part is not an object.
    Parameters(Part),
    /// A boolean parameter is something else.
    Flag {
        name: &'static str,
        of: Part,
    },
    IdNotAString,
    NoInputs,
    /// `Inference-Header-Content-Length` is not a number: its value.
    HeaderLength(String),
    HeaderBeyondBody {
        length: usize,
        body: usize,
    },
    InputNotAnObject,
    InputName,
    Datatype {
        input: String,
        found: String,
    },
    Shape {
        input: String,
    },
    BinarySizeNotAnInteger {
        input: String,
    },
    DataAndBinary {
        input: String,
    },
    /// `binary_data_size` is not what the shape needs of the datatype (`None`: more than 2^64).
    BinarySize {
        input: String,
        size: u64,
        shape: Vec<usize>,
        datatype: String,
        needed: Option<usize>,
    },
    /// Fewer binary bytes are left than `binary_data_size` says.
    BinaryShort {
        input: String,
        size: u64,
        left: usize,
    },
    /// `data` is not an array (`nested: false`), or holds something other than numbers and
    /// nulls, or is nested too deep (`nested: true`).
    Data {
        input: String,
        nested: bool,
    },
    DataLength {
        input: String,
        shape: Vec<usize>,
        needed: Option<usize>,
        found: usize,
    },
    /// Bytes of binary data that no input claims.
    LeftOver(usize),
    PatientsShape(Vec<usize>),
    /// Too few or too many patients: the reason.
    BatchSize(String),
    UnknownInput(String),
    InputTwice(String),
    NamedShape {
        input: String,
        n: usize,
        shape: Vec<usize>,
    },
    MissingInputs(Vec<&'static str>),
    OutputsNotAnArray,
    OutputNotAnObject,
    UnknownOutput(Option<String>),
    /// Invalid patients: the first [`MAX_ERRORS`] problems (patient index and field error) of
    /// `total`.
    InvalidPatients {
        errors: Vec<(usize, FieldError)>,
        total: usize,
    },
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InferError as E;
        match self {
            E::Json { in_header, message } => {
                let what = if *in_header { "inference header" } else { "body" };
                write!(f, "the {what} is not valid JSON: {message}")
            }
            E::NotAnObject => f.write_str("the body must be a JSON object with \"inputs\""),
            E::Parameters(of) => write!(f, "\"parameters\" of {of} must be an object"),
            E::Flag { name, of } => write!(f, "parameters.{name} of {of} must be true or false"),
            E::IdNotAString => f.write_str("\"id\" must be a string"),
            E::NoInputs => f.write_str("\"inputs\" must be a non-empty array of tensors"),
            E::HeaderLength(value) => write!(
                f,
                "{OIP_HEADER_LENGTH} must be the length in bytes of the JSON at the start of the body, found {value:?}"
            ),
            E::HeaderBeyondBody { length, body } => write!(
                f,
                "{OIP_HEADER_LENGTH} is {length}, beyond the body's {body} bytes"
            ),
            E::InputNotAnObject => f.write_str("every input must be a tensor object"),
            E::InputName => f.write_str("every input needs a string \"name\""),
            E::Datatype { input, found } => write!(
                f,
                "input {input:?}: datatype must be one of {}, found {found:?}",
                OIP_DATATYPES.join(", ")
            ),
            E::Shape { input } => write!(
                f,
                "input {input:?}: \"shape\" must be an array of non-negative integers"
            ),
            E::BinarySizeNotAnInteger { input } => write!(
                f,
                "input {input:?}: parameters.binary_data_size must be a non-negative integer"
            ),
            E::DataAndBinary { input } => write!(
                f,
                "input {input:?}: give either \"data\" or parameters.binary_data_size, not both"
            ),
            E::BinarySize {
                input,
                size,
                shape,
                datatype,
                needed,
            } => {
                write!(
                    f,
                    "input {input:?}: binary_data_size is {size} bytes, but shape {shape:?} of {datatype} takes "
                )?;
                match needed {
                    Some(n) => write!(f, "{n} bytes"),
                    None => f.write_str("more than 2^64 bytes"),
                }
            }
            E::BinaryShort { input, size, left } => write!(
                f,
                "input {input:?}: binary_data_size is {size} bytes, but only {left} bytes of binary data are left after the inference header and the inputs before it"
            ),
            E::Data {
                input,
                nested: false,
            } => write!(f, "input {input:?}: \"data\" must be an array"),
            E::Data { input, nested: true } => write!(
                f,
                "input {input:?}: data must hold numbers (or null for a missing slope, ca or thal), nested at most as deep as the shape"
            ),
            E::DataLength {
                input,
                shape,
                needed,
                found,
            } => write!(
                f,
                "input {input:?}: shape {shape:?} needs {} values, data has {found}",
                needed.unwrap_or(usize::MAX)
            ),
            E::LeftOver(n) => write!(
                f,
                "{n} bytes of binary tensor data are left over after the inputs' binary_data_size"
            ),
            E::PatientsShape(shape) => write!(
                f,
                "input \"patients\" must have shape [N, {N_FEATURES}], found {shape:?}"
            ),
            E::BatchSize(reason) => write!(f, "the inputs {reason}"),
            E::UnknownInput(name) => write!(
                f,
                "unknown input {name:?}: send \"patients\" [N, {N_FEATURES}] or one tensor per feature"
            ),
            E::InputTwice(name) => write!(f, "input {name:?} is given twice"),
            E::NamedShape { input, n, shape } => write!(
                f,
                "input {input:?} must have shape [{n}] like the other inputs, found {shape:?}"
            ),
            E::MissingInputs(names) => {
                write!(f, "missing input tensor(s): {}", names.join(", "))
            }
            E::OutputsNotAnArray => f.write_str("\"outputs\" must be an array"),
            E::OutputNotAnObject => {
                f.write_str("every requested output must be an object with a \"name\"")
            }
            E::UnknownOutput(name) => write!(
                f,
                "unknown output {name:?}; the outputs are \"probability\" and \"prediction\""
            ),
            E::InvalidPatients { errors, total } => {
                f.write_str("invalid input: ")?;
                for (k, (i, e)) in errors.iter().enumerate() {
                    let sep = if k == 0 { "" } else { "; " };
                    write!(f, "{sep}patient {i}: {} {}", &e.field[1..], e.reason)?;
                }
                if *total > MAX_ERRORS {
                    write!(f, " (and {} more)", total - MAX_ERRORS)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InferError {}

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
    /// if it has one; the error's `Display` is the protocol's message.
    pub fn parse(body: &[u8], header_length: Option<&str>) -> Result<Self, InferError> {
        let (json, mut binary) = split_body(body, header_length)?;
        let value: Value = serde_json::from_slice(json).map_err(|e| InferError::Json {
            in_header: header_length.is_some(),
            message: e.to_string(),
        })?;
        let Value::Object(object) = value else {
            return Err(InferError::NotAnObject);
        };
        check_parameters(&object, || Part::Request)?;
        let binary_by_default = flag(object.get("parameters"), "binary_data_output", || {
            Part::Request
        })?
        .unwrap_or(false);
        let id = match object.get("id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(InferError::IdNotAString),
        };
        let inputs = match object.get("inputs") {
            Some(Value::Array(inputs)) if !inputs.is_empty() => inputs,
            _ => return Err(InferError::NoInputs),
        };
        let rows = rows(inputs, &mut binary)?;
        if !binary.is_empty() {
            return Err(InferError::LeftOver(binary.len()));
        }
        let mut patients = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        let mut total = 0;
        for (i, row) in rows.into_iter().enumerate() {
            match Patient::from_values(row) {
                Ok(p) => patients.push(p),
                Err(found) => {
                    total += found.len();
                    let room = MAX_ERRORS.saturating_sub(errors.len());
                    errors.extend(found.into_iter().take(room).map(|e| (i, e)));
                }
            }
        }
        if total > 0 {
            return Err(InferError::InvalidPatients { errors, total });
        }
        Ok(InferRequest {
            id,
            patients,
            outputs: outputs(object.get("outputs"), binary_by_default)?,
        })
    }

    /// The patients the request assesses, in order.
    pub fn patients(&self) -> &[Patient] {
        &self.patients
    }

    /// The answer from `model` (at `model_version`): JSON, or, when an output is asked for in
    /// binary, the JSON header and the binary outputs' bytes after it.
    pub fn answer(&self, model: &LogisticModel, model_version: &str) -> Encoded {
        let assessments: Vec<_> = self.patients.iter().map(|p| model.assess(p)).collect();
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
            model_name: OIP_MODEL_NAME,
            model_version,
            id: self.id.as_deref(),
            outputs,
        };
        // Serialising our own plain structs to memory cannot fail.
        let mut body = serde_json::to_vec(&header).unwrap_or_default();
        if !self.outputs.iter().any(|&(_, binary)| binary) {
            return Encoded {
                body,
                media_type: "application/json",
                header_length: None,
            };
        }
        let header_length = body.len();
        body.extend_from_slice(&bytes);
        Encoded {
            body,
            media_type: "application/octet-stream",
            header_length: Some(header_length),
        }
    }
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'static str,
    model_version: &'a str,
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

/// The protocol's optional `parameters` must be an object where present; `of` names the
/// part it belongs to, made only for the error.
fn check_parameters(
    object: &Map<String, Value>,
    of: impl FnOnce() -> Part,
) -> Result<(), InferError> {
    match object.get("parameters") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(InferError::Parameters(of())),
    }
}

/// A boolean parameter (`None` when not given) from an already checked `parameters`.
fn flag(
    parameters: Option<&Value>,
    name: &'static str,
    of: impl FnOnce() -> Part,
) -> Result<Option<bool>, InferError> {
    match parameters.and_then(|p| p.get(name)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(InferError::Flag { name, of: of() }),
    }
}

/// The body's JSON and the binary tensor data after it, split where
/// `Inference-Header-Content-Length` says; without that header the whole body is JSON.
fn split_body<'a>(
    body: &'a [u8],
    header_length: Option<&str>,
) -> Result<(&'a [u8], &'a [u8]), InferError> {
    let Some(value) = header_length else {
        return Ok((body, &[]));
    };
    let length = value
        .trim()
        .parse::<usize>()
        .map_err(|_| InferError::HeaderLength(value.to_string()))?;
    if length > body.len() {
        return Err(InferError::HeaderBeyondBody {
            length,
            body: body.len(),
        });
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
) -> Result<Vec<Option<f64>>, InferError> {
    let (width, read) = element(datatype);
    let needed = shape.iter().try_fold(width, |acc, d| acc.checked_mul(*d));
    let Some(needed) = needed.filter(|&n| n as u64 == size) else {
        return Err(InferError::BinarySize {
            input: name.to_string(),
            size,
            shape: shape.to_vec(),
            datatype: datatype.to_string(),
            needed,
        });
    };
    if needed > binary.len() {
        return Err(InferError::BinaryShort {
            input: name.to_string(),
            size,
            left: binary.len(),
        });
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
fn tensor<'a>(value: &'a Value, binary: &mut &[u8]) -> Result<Tensor<'a>, InferError> {
    let object = value.as_object().ok_or(InferError::InputNotAnObject)?;
    let name = value["name"].as_str().ok_or(InferError::InputName)?;
    let input = || name.to_string();
    check_parameters(object, || Part::Input(input()))?;
    let datatype = value["datatype"].as_str().unwrap_or("");
    if !OIP_DATATYPES.contains(&datatype) {
        return Err(InferError::Datatype {
            input: input(),
            found: datatype.to_string(),
        });
    }
    let shape: Vec<usize> = value["shape"]
        .as_array()
        .and_then(|dims| {
            dims.iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect()
        })
        .ok_or_else(|| InferError::Shape { input: input() })?;
    let binary_size = match object
        .get("parameters")
        .and_then(|p| p.get("binary_data_size"))
    {
        None => None,
        Some(size) => Some(
            size.as_u64()
                .ok_or_else(|| InferError::BinarySizeNotAnInteger { input: input() })?,
        ),
    };
    if let Some(size) = binary_size {
        if object.contains_key("data") {
            return Err(InferError::DataAndBinary { input: input() });
        }
        let data = binary_data(name, datatype, &shape, size, binary)?;
        return Ok(Tensor { name, shape, data });
    }
    let mut data = Vec::new();
    flatten(&value["data"], &mut data, 0).map_err(|nested| InferError::Data {
        input: input(),
        nested,
    })?;
    let expected = shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
    if expected != Some(data.len()) {
        return Err(InferError::DataLength {
            input: input(),
            shape,
            needed: expected,
            found: data.len(),
        });
    }
    Ok(Tensor { name, shape, data })
}

/// Row-major values of (possibly nested) tensor data; `null` is a missing value. The error
/// says whether the data was an array at all (`false`: it was not; `true`: something in it is
/// not a number or null, or is nested too deep).
fn flatten(value: &Value, out: &mut Vec<Option<f64>>, depth: usize) -> Result<(), bool> {
    match value {
        Value::Array(items) if depth < 2 => {
            items.iter().try_for_each(|v| flatten(v, out, depth + 1))
        }
        Value::Number(n) if depth > 0 => {
            out.push(n.as_f64());
            Ok(())
        }
        Value::Null if depth > 0 => {
            out.push(None);
            Ok(())
        }
        _ => Err(depth > 0),
    }
}

/// The patients' raw values from either input layout; binary inputs take their bytes from the
/// front of `binary`, in input order.
fn rows(
    inputs: &[Value],
    binary: &mut &[u8],
) -> Result<Vec<[Option<f64>; N_FEATURES]>, InferError> {
    let tensors: Vec<Tensor> = inputs
        .iter()
        .map(|input| tensor(input, binary))
        .collect::<Result<_, _>>()?;
    let rows = match tensors.as_slice() {
        [t] if t.name == "patients" => {
            if t.shape.len() != 2 || t.shape[1] != N_FEATURES {
                return Err(InferError::PatientsShape(t.shape.clone()));
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
) -> Result<Vec<[Option<f64>; N_FEATURES]>, InferError> {
    check_batch_size(rows.len()).map_err(|e| InferError::BatchSize(e.reason))?;
    Ok(rows)
}

fn named(tensors: &[Tensor]) -> Result<Vec<[Option<f64>; N_FEATURES]>, InferError> {
    let n = tensors[0].data.len();
    let mut columns: [Option<&Tensor>; N_FEATURES] = [None; N_FEATURES];
    for t in tensors {
        let i =
            feature_index(t.name).ok_or_else(|| InferError::UnknownInput(t.name.to_string()))?;
        if columns[i].is_some() {
            return Err(InferError::InputTwice(t.name.to_string()));
        }
        if !(t.shape == [n] || t.shape == [n, 1]) {
            return Err(InferError::NamedShape {
                input: t.name.to_string(),
                n,
                shape: t.shape.clone(),
            });
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
        return Err(InferError::MissingInputs(missing));
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
) -> Result<Vec<(Output, bool)>, InferError> {
    let Some(requested) = requested else {
        return Ok(vec![
            (Output::Probability, binary_by_default),
            (Output::Prediction, binary_by_default),
        ]);
    };
    let list = requested.as_array().ok_or(InferError::OutputsNotAnArray)?;
    list.iter()
        .map(|o| {
            let object = o.as_object().ok_or(InferError::OutputNotAnObject)?;
            check_parameters(object, || Part::Output)?;
            let output = match o["name"].as_str() {
                Some("probability") => Output::Probability,
                Some("prediction") => Output::Prediction,
                other => return Err(InferError::UnknownOutput(other.map(str::to_string))),
            };
            let binary = flag(object.get("parameters"), "binary_data", || Part::Output)?;
            Ok((output, binary.unwrap_or(binary_by_default)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use heart_model::{MODEL, MODEL_VERSION};

    fn patients(rows: usize) -> String {
        let data = vec![crate::example::row_json(); rows].join(",");
        format!(
            r#"{{"inputs": [{{"name": "patients", "shape": [{rows}, 13], "datatype": "FP64", "data": [{data}]}}]}}"#
        )
    }

    #[test]
    fn a_json_request_is_answered_in_json() {
        let request = InferRequest::parse(patients(2).as_bytes(), None).unwrap();
        assert_eq!(request.patients().len(), 2);
        let encoded = request.answer(&MODEL, MODEL_VERSION);
        assert_eq!(encoded.media_type, "application/json");
        assert_eq!(encoded.header_length, None);
        let answer: Value = serde_json::from_slice(&encoded.body).unwrap();
        assert_eq!(answer["model_name"], OIP_MODEL_NAME);
        assert_eq!(answer["outputs"][1]["data"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn binary_outputs_follow_the_json_header() {
        let body = patients(3).replace(
            r#""inputs""#,
            r#""parameters": {"binary_data_output": true}, "inputs""#,
        );
        let encoded = InferRequest::parse(body.as_bytes(), None)
            .unwrap()
            .answer(&MODEL, MODEL_VERSION);
        assert_eq!(encoded.media_type, "application/octet-stream");
        let n = encoded.header_length.unwrap();
        assert_eq!(encoded.body.len() - n, 2 * 3 * 8);
        let header: Value = serde_json::from_slice(&encoded.body[..n]).unwrap();
        assert_eq!(header["outputs"][0]["parameters"]["binary_data_size"], 24);
    }

    /// Refusals are told apart by their variant; the message is the variant displayed.
    #[test]
    fn refusals_are_typed_and_say_why() {
        let refuse = |body: &str, header: Option<&str>| {
            InferRequest::parse(body.as_bytes(), header)
                .err()
                .expect("a refusal")
        };
        assert_eq!(
            refuse("{}", Some("x")),
            InferError::HeaderLength("x".into())
        );
        assert_eq!(
            refuse("{}", Some("9")),
            InferError::HeaderBeyondBody { length: 9, body: 2 }
        );
        assert_eq!(refuse("[1]", None), InferError::NotAnObject);
        assert_eq!(refuse(r#"{"inputs": []}"#, None), InferError::NoInputs);
        assert_eq!(
            refuse(&patients(1).replace("13]", "12]"), None),
            InferError::DataLength {
                input: "patients".into(),
                shape: vec![1, 12],
                needed: Some(12),
                found: 13
            }
        );
        assert_eq!(
            refuse(r#"{"inputs": [{"name": "x", "parameters": 1}]}"#, None).to_string(),
            "\"parameters\" of input \"x\" must be an object"
        );
        let invalid = refuse(&patients(1).replace("[63,", "[null,"), None);
        assert!(matches!(
            invalid,
            InferError::InvalidPatients { total: 1, .. }
        ));
        assert_eq!(
            invalid.to_string(),
            "invalid input: patient 0: age is required and must be a number from 18 to 120"
        );
        let Some(json) = refuse("{", None)
            .to_string()
            .strip_prefix("the body is not valid JSON: ")
            .map(str::to_string)
        else {
            panic!("not a JSON error");
        };
        assert!(!json.is_empty());
    }
}
