//! The API's OpenAPI 3.1 document and its HTML reference page, generated from the model core's
//! feature table and the wire contract's constants, so the description cannot drift from what
//! the code accepts.
//!
//! The component's build script calls [`openapi`] and [`docs_html`] and bakes both in as
//! constant strings; the tests call them to check the served copies and run schemathesis.

use heart_model::model::{DECISION_THRESHOLD, HIGH_RISK_FROM, MODERATE_RISK_FROM};
use heart_model::schema::{Domain, FEATURES, N_FEATURES};
use serde_json::{json, Map, Value};

use crate::answer::ASSESSMENT_FIELDS;
use crate::example;
use crate::limits::{
    BODY_IDLE_TIMEOUT, BODY_MAX_TIME, BODY_MIN_RATE, BODY_START, DISCARD_MAX_BYTES, MAX_BATCH,
    MAX_BODY_BYTES, MAX_ERRORS,
};
use crate::names::{OIP_DATATYPES, OIP_HEADER_LENGTH, OIP_MODEL_NAME};

/// The 408 answer's description: the body-reading rules.
fn timeout_description() -> String {
    format!(
        "The body stalled (no byte for {} s), or arrived slower than {BODY_MIN_RATE} bytes/s \
         on average after its first {} s ({MAX_BODY_BYTES} bytes take at most {} s)",
        BODY_IDLE_TIMEOUT.as_secs(),
        BODY_START.as_secs(),
        BODY_MAX_TIME.as_secs()
    )
}

/// The 413 answer's description.
fn too_large_description() -> String {
    format!(
        "Body over {MAX_BODY_BYTES} bytes. Unless the client sent `Expect: 100-continue`, the rest of a body of up to \
         {DISCARD_MAX_BYTES} bytes is read and discarded before this answer, so that a client still writing sees it"
    )
}

/// JSON Schema of one feature's value.
fn feature_schema(i: usize) -> Value {
    let f = &FEATURES[i];
    let mut s = Map::new();
    let ty = if f.required {
        json!("number")
    } else {
        json!(["number", "null"])
    };
    s.insert("type".into(), ty);
    let mut description = f.description.to_string();
    if !f.unit.is_empty() {
        description.push_str(&format!(" ({})", f.unit));
    }
    if !f.required {
        description.push_str(
            "; optional: absent or null is imputed with the training data's most frequent value",
        );
    }
    s.insert("description".into(), json!(description));
    match f.domain {
        Domain::Range { min, max, integer } => {
            s.insert("minimum".into(), json!(min));
            s.insert("maximum".into(), json!(max));
            if integer {
                s.insert("multipleOf".into(), json!(1));
            }
        }
        Domain::Levels(levels) => {
            let mut values: Vec<Value> = levels.iter().map(|l| json!(*l as i64)).collect();
            if !f.required {
                values.push(Value::Null);
            }
            s.insert("enum".into(), Value::Array(values));
        }
    }
    Value::Object(s)
}

fn patient_schema() -> Value {
    let properties: Map<String, Value> = FEATURES
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.to_string(), feature_schema(i)))
        .collect();
    let required: Vec<&str> = FEATURES
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({
        "type": "object",
        "description": "One patient's findings, with the UCI Cleveland names and codes.",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "examples": [example::patient()]
    })
}

fn assessment_properties() -> Map<String, Value> {
    let contributions: Map<String, Value> = FEATURES
        .iter()
        .map(|f| (f.name.to_string(), json!({"type": "number"})))
        .collect();
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    let optional: Vec<&str> = FEATURES
        .iter()
        .filter(|f| !f.required)
        .map(|f| f.name)
        .collect();
    ASSESSMENT_FIELDS
        .iter()
        .map(|&name| {
            let schema = match name {
                "prediction" => json!({"type": "integer", "enum": [0, 1], "description": format!("1 when probability >= {DECISION_THRESHOLD}")}),
                "probability" => json!({"type": "number", "minimum": 0, "maximum": 1, "description": "Probability of heart disease (num > 0)"}),
                "risk_level" => json!({"type": "string", "enum": ["low", "moderate", "high"],
                                       "description": format!("low: probability < {MODERATE_RISK_FROM}; moderate: < {HIGH_RISK_FROM}; high: otherwise")}),
                "contributions" => json!({"type": "object", "properties": contributions, "required": names, "additionalProperties": false,
                                          "description": "Each feature's term in the logit; positive values push the risk up"}),
                "intercept" => json!({"type": "number", "description": "intercept + sum of contributions = logit"}),
                "imputed" => json!({"type": "array", "items": {"type": "string", "enum": optional}, "uniqueItems": true,
                                    "description": "Optional features that were missing and imputed"}),
                other => unreachable!("ASSESSMENT_FIELDS names {other}, which the OpenAPI document does not describe"),
            };
            (name.to_string(), schema)
        })
        .collect()
}

fn assessment_schema(with_version: bool) -> Value {
    let mut properties = assessment_properties();
    let mut required: Vec<String> = properties.keys().cloned().collect();
    if with_version {
        properties.insert("model_version".into(), json!({"type": "string"}));
        required.push("model_version".into());
    }
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details. `errors` lists every offending field of a bad body.",
        "properties": {
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 499},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "maxItems": MAX_ERRORS,
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string", "description": "JSON Pointer to the field ('' = the body)"},
                        "reason": {"type": "string"}
                    },
                    "required": ["field", "reason"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["title", "status", "detail"],
        "additionalProperties": false
    })
}

/// The model card's figures (its `figures` list, written by the trainer): file name under
/// `/model/figures/` and what the figure shows.
pub fn model_figures() -> Vec<(String, String)> {
    let card: Value =
        serde_json::from_str(heart_model::MODEL_CARD_JSON).expect("the model card is JSON");
    card["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let file = f["file"].as_str().unwrap_or_default();
            let name = file.rsplit('/').next().unwrap_or(file).to_string();
            (name, f["shows"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn problem(description: &str) -> Value {
    json!({"description": description, "headers": headers(),
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn oip_error(description: &str) -> Value {
    json!({"description": description, "headers": headers(),
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OipError"}}}})
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "headers": headers(), "content": {"application/json": {"schema": schema}}})
}

fn headers() -> Value {
    json!({
        "x-model-version": {"$ref": "#/components/headers/ModelVersion"},
        "x-request-id": {"$ref": "#/components/headers/RequestId"}
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn model_params(with_version: bool) -> Value {
    let mut params = vec![json!({"name": "model", "in": "path", "required": true,
        "schema": {"type": "string"}, "example": OIP_MODEL_NAME,
        "description": format!("The model's name: `{OIP_MODEL_NAME}` (any other is 404)")})];
    if with_version {
        params.push(json!({"name": "version", "in": "path", "required": true, "schema": {"type": "string"},
            "example": heart_model::MODEL_VERSION, "description": "The model version (any other is 404)"}));
    }
    Value::Array(params)
}

/// The inference operation's parameters: the model (and version) path parameters and the
/// binary extension's header.
fn oip_infer_params(with_version: bool) -> Value {
    let mut params = model_params(with_version);
    if let Value::Array(list) = &mut params {
        list.push(json!({"name": OIP_HEADER_LENGTH, "in": "header", "required": false,
            "schema": {"type": "integer", "minimum": 0},
            "description": "Binary tensor data extension: the length in bytes of the JSON at the start of the body"}));
    }
    params
}

fn oip_model_paths(paths: &mut Map<String, Value>, base: &str, with_version: bool) {
    let tag = json!(["Open Inference Protocol"]);
    paths.insert(
        base.to_string(),
        json!({"get": {"tags": tag, "summary": "Model metadata: versions, inputs, outputs", "operationId": format!("oipModelMetadata{}", if with_version {"AtVersion"} else {""}),
            "parameters": model_params(with_version),
            "responses": {"200": ok_json("Model metadata", schema_ref("OipModelMetadata")), "404": oip_error("Unknown model or version")}}}),
    );
    paths.insert(
        format!("{base}/ready"),
        json!({"get": {"tags": tag, "summary": "Model readiness", "operationId": format!("oipModelReady{}", if with_version {"AtVersion"} else {""}),
            "parameters": model_params(with_version),
            "responses": {"200": ok_json("Ready", schema_ref("OipReady")), "404": oip_error("Unknown model or version")}}}),
    );
    paths.insert(
        format!("{base}/infer"),
        json!({"post": {"tags": tag, "summary": "Inference", "operationId": format!("oipInfer{}", if with_version {"AtVersion"} else {""}),
            "description": format!("Inputs: one tensor `patients` [N, 13] in feature order, or one tensor per feature [N]. \
                            `null` marks a missing slope, ca or thal. 1 to 1000 patients. Outputs: `probability` FP64 [N], \
                            `prediction` INT64 [N]; `outputs` selects some; `id` is echoed. \
                            Binary tensor data extension: with `{OIP_HEADER_LENGTH}: L` the body is L bytes of JSON, then the \
                            little-endian bytes of each input that gives `parameters.binary_data_size` instead of `data`, in input \
                            order (NaN in a floating-point tensor is a missing value). `parameters.binary_data_output: true` (every \
                            output) or an output's `parameters.binary_data: true` asks for binary outputs: the answer is then \
                            `application/octet-stream`, L bytes of JSON (L in `{OIP_HEADER_LENGTH}`) listing each binary output with \
                            `parameters.binary_data_size`, then their bytes in output order."),
            "parameters": oip_infer_params(with_version),
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": schema_ref("OipInferRequest"),
                    "example": {"id": "req-1", "inputs": [{"name": "patients", "shape": [1, N_FEATURES], "datatype": "FP64",
                        "data": example::row()}]}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                    "description": format!("The JSON inference request ({OIP_HEADER_LENGTH} bytes), then the binary inputs' bytes")}}}},
            "responses": {
                "200": {"description": "Outputs: JSON, or with binary outputs the JSON header and their bytes",
                        "headers": {"x-model-version": {"$ref": "#/components/headers/ModelVersion"},
                                    "x-request-id": {"$ref": "#/components/headers/RequestId"},
                                    OIP_HEADER_LENGTH: {"description": "With binary outputs: the length of the JSON at the start of the body",
                                                        "schema": {"type": "integer", "minimum": 0}}},
                        "content": {"application/json": {"schema": schema_ref("OipInferResponse")},
                                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "400": oip_error("Malformed request or invalid patient values"),
                "404": oip_error("Unknown model or version"),
                "408": problem(&timeout_description()),
                "413": problem(&too_large_description())
            }}}),
    );
}

/// An inference answer (or, with binary outputs, its JSON header): each output has its `data`,
/// or, in binary, `parameters.binary_data_size`.
fn oip_infer_response_schema() -> Value {
    json!({"type": "object", "properties": {
        "model_name": {"const": OIP_MODEL_NAME}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"enum": ["probability", "prediction"]}, "datatype": {"enum": ["FP64", "INT64"]},
            "shape": {"type": "array", "items": {"type": "integer"}}, "data": {"type": "array", "items": {"type": "number"}},
            "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                           "required": ["binary_data_size"]}},
            "required": ["name", "datatype", "shape"],
            "oneOf": [{"required": ["data"]}, {"required": ["parameters"]}]}}},
        "required": ["model_name", "model_version", "outputs"]})
}

/// The OpenAPI 3.1 document served at `GET /openapi.json`.
pub fn openapi() -> Value {
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    let single_example = json!({"model_version": heart_model::MODEL_VERSION});
    let mut paths = Map::new();
    paths.insert("/predict".into(), json!({"post": {
        "tags": ["Prediction"],
        "summary": "Heart-disease risk for one patient or a batch",
        "operationId": "predict",
        "description": format!("Send one patient object, or `{{\"instances\": [patient, ...]}}` with 1 to {MAX_BATCH} patients. \
                                Every bad field is reported at once. Bodies over {MAX_BODY_BYTES} bytes are refused (413)."),
        "requestBody": {"required": true, "content": {"application/json": {
            "schema": {"oneOf": [schema_ref("Patient"), schema_ref("Batch")]},
            "examples": {"single": {"value": example::patient()}, "batch": {"value": {"instances": [example::patient()]}}}
        }}},
        "responses": {
            "200": {"description": "An assessment (single) or one per patient in request order (batch)",
                    "headers": {"x-model-version": {"$ref": "#/components/headers/ModelVersion"},
                                "x-request-id": {"$ref": "#/components/headers/RequestId"},
                                "x-batch-size": {"description": "Number of patients assessed", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH}}},
                    "content": {"application/json": {"schema": {"oneOf": [schema_ref("Assessment"), schema_ref("BatchAssessment")]},
                                                      "example": single_example}}},
            "400": problem("The body is not JSON, or could not be read to its end"),
            "408": problem(&timeout_description()),
            "413": problem(&too_large_description()),
            "415": problem("Content-Type is not application/json"),
            "422": problem("Valid JSON, but not a valid request: every offending field is listed")
        }
    }}));
    paths.insert("/health".into(), json!({"get": {"tags": ["Service"], "summary": "Liveness and readiness", "operationId": "health",
        "responses": {"200": ok_json("The service is up", schema_ref("Health"))}}}));
    paths.insert("/model".into(), json!({"get": {"tags": ["Service"], "summary": "The model card", "operationId": "modelCard",
        "description": "Training data, features with encoding and imputation values, scaler statistics, coefficients, cross-validated metrics.",
        "responses": {"200": ok_json("The model card", json!({"type": "object", "required": ["name", "model_version", "features", "cross_validation"]}))}}}));
    let figure_names: Vec<String> = model_figures().into_iter().map(|(name, _)| name).collect();
    paths.insert("/model/figures/{name}".into(), json!({"get": {"tags": ["Service"], "summary": "A figure of the model card (SVG)", "operationId": "modelFigure",
        "description": "ROC curve, calibration curve and coefficients, drawn by the trainer from its cross-validation.",
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "enum": figure_names}}],
        "responses": {"200": {"description": "The figure", "headers": headers(), "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                      "404": problem("No figure of that name")}}}));
    paths.insert("/openapi.json".into(), json!({"get": {"tags": ["Service"], "summary": "This document", "operationId": "openapi",
        "responses": {"200": ok_json("OpenAPI 3.1", json!({"type": "object", "required": ["openapi", "paths"]}))}}}));
    paths.insert("/docs".into(), json!({"get": {"tags": ["Service"], "summary": "The API reference as a web page", "operationId": "docs",
        "responses": {"200": {"description": "A self-contained HTML page", "headers": headers(), "content": {"text/html": {"schema": {"type": "string"}}}}}}}));
    let oip = json!(["Open Inference Protocol"]);
    paths.insert("/v2".into(), json!({"get": {"tags": oip, "summary": "Server metadata", "operationId": "oipServerMetadata",
        "responses": {"200": ok_json("Server metadata", schema_ref("OipServerMetadata"))}}}));
    paths.insert("/v2/health/live".into(), json!({"get": {"tags": oip, "summary": "Server liveness", "operationId": "oipLive",
        "responses": {"200": ok_json("Live", json!({"type": "object", "properties": {"live": {"type": "boolean"}}, "required": ["live"]}))}}}));
    paths.insert("/v2/health/ready".into(), json!({"get": {"tags": oip, "summary": "Server readiness", "operationId": "oipReady",
        "responses": {"200": ok_json("Ready", json!({"type": "object", "properties": {"ready": {"type": "boolean"}}, "required": ["ready"]}))}}}));
    oip_model_paths(&mut paths, "/v2/models/{model}", false);
    oip_model_paths(&mut paths, "/v2/models/{model}/versions/{version}", true);

    let tensor_shape = json!({"type": "array", "items": {"type": "integer", "minimum": -1}});
    let input_names: Vec<&str> = std::iter::once("patients")
        .chain(names.iter().copied())
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "heart-disease-api",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Heart-disease risk from the 13 UCI Cleveland features (logistic regression)",
            "description": format!("Model version {}. Every response carries `x-model-version` and `x-request-id`. \
                                    Errors of the native API are RFC 9457 problem details; the Open Inference Protocol \
                                    endpoints answer errors as `{{\"error\": \"...\"}}`. Wrong methods get 405 with `Allow`. \
                                    Every GET operation answers HEAD too: the same status and headers, no body.",
                                   heart_model::MODEL_VERSION),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "tags": [
            {"name": "Prediction", "description": "The native API"},
            {"name": "Service", "description": "Health, model card, documentation"},
            {"name": "Open Inference Protocol", "description": "KServe V2 REST protocol, model name `heart-disease`"}
        ],
        "paths": paths,
        "components": {
            "headers": {
                "ModelVersion": {"description": "Version of the model that answered", "schema": {"type": "string", "const": heart_model::MODEL_VERSION}},
                "RequestId": {"description": "The caller's x-request-id when a plain token, else a generated one", "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}
            },
            "schemas": {
                "Patient": patient_schema(),
                "Batch": {"type": "object", "properties": {"instances": {"type": "array", "items": schema_ref("Patient"),
                          "minItems": 1, "maxItems": MAX_BATCH}}, "required": ["instances"], "additionalProperties": false},
                "Assessment": assessment_schema(true),
                "BatchAssessment": {"type": "object", "properties": {"model_version": {"type": "string"},
                          "predictions": {"type": "array", "items": assessment_schema(false), "minItems": 1, "maxItems": MAX_BATCH}},
                          "required": ["model_version", "predictions"], "additionalProperties": false},
                "Problem": problem_schema(),
                "Health": {"type": "object", "properties": {"status": {"const": "ok"}, "model_version": {"type": "string"}},
                           "required": ["status", "model_version"], "additionalProperties": false},
                "OipError": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"], "additionalProperties": false},
                "OipServerMetadata": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                          "extensions": {"type": "array", "items": {"type": "string"}}}, "required": ["name", "version", "extensions"]},
                "OipReady": {"type": "object", "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}, "required": ["ready"]},
                "OipTensorMetadata": {"type": "object", "properties": {"name": {"type": "string"}, "datatype": {"type": "string"}, "shape": tensor_shape},
                          "required": ["name", "datatype", "shape"]},
                "OipModelMetadata": {"type": "object", "properties": {
                          "name": {"const": OIP_MODEL_NAME}, "versions": {"type": "array", "items": {"type": "string"}},
                          "platform": {"type": "string"},
                          "inputs": {"type": "array", "items": schema_ref("OipTensorMetadata")},
                          "outputs": {"type": "array", "items": schema_ref("OipTensorMetadata")},
                          "parameters": {"type": "object", "properties": {"feature_order": {"const": names}}}},
                          "required": ["name", "versions", "platform", "inputs", "outputs"]},
                "OipInferRequest": {"type": "object", "properties": {
                          "id": {"type": "string"},
                          "inputs": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                              "name": {"type": "string", "enum": input_names},
                              "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                              "datatype": {"enum": OIP_DATATYPES},
                              "parameters": {"type": "object"},
                              "data": {"type": "array"}}, "required": ["name", "shape", "datatype", "data"]}},
                          "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
                          "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"enum": ["probability", "prediction"]},
                              "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}}}, "required": ["name"]}}},
                          "required": ["inputs"]},
                "OipInferResponse": oip_infer_response_schema()
            }
        }
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The self-contained HTML reference served at `GET /docs` (no external assets), written
/// from the OpenAPI document and the feature table.
pub fn docs_html(openapi: &Value) -> String {
    let mut endpoints = String::new();
    if let Some(paths) = openapi["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let statuses: Vec<String> = op["responses"]
                    .as_object()
                    .map(|r| r.keys().map(|k| format!("<code>{k}</code>")).collect())
                    .unwrap_or_default();
                endpoints.push_str(&format!(
                    "<tr><td><code>{} {}</code></td><td>{}</td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or("")),
                    statuses.join(" ")
                ));
            }
        }
    }
    let mut features = String::new();
    for f in FEATURES.iter() {
        features.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{}</td></tr>\n",
            f.name,
            escape(f.description),
            if f.unit.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(f.unit))
            },
            escape(&f.rule().replacen("must be ", "", 1)),
            if f.required {
                "required"
            } else {
                "optional (imputed when absent or null)"
            }
        ));
    }
    let figures: String = model_figures()
        .iter()
        .map(|(name, shows)| {
            format!(
                "<figure><img src=\"/model/figures/{name}\" alt=\"{alt}\" loading=\"lazy\"><figcaption>{alt}</figcaption></figure>\n",
                alt = escape(shows)
            )
        })
        .collect();
    let example = example::patient().to_string();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>heart-disease-api — API reference</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}
h1{{font-size:1.6rem}} h2{{margin-top:2rem;border-bottom:1px solid #d0d7de}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f6f8fa}} figure{{margin:1rem 0}} figure img{{max-width:100%;height:auto}} figcaption{{color:#57606a;font-size:.9em}} code,pre{{font-family:ui-monospace,monospace;font-size:.9em}} pre{{background:#f6f8fa;padding:.8rem;overflow:auto}}
</style></head><body>
<h1>heart-disease-api</h1>
<p>Heart-disease risk from the 13 UCI Cleveland features: an L2-regularised logistic regression,
model version <code>{version}</code>. The machine-readable description is <a href="/openapi.json">/openapi.json</a>
(OpenAPI 3.1); the model card is <a href="/model">/model</a>.</p>
<p>The same <code>.wasm</code> also runs in a web browser, with no server: <code>make web</code> builds a clinician's form into <code>target/web/</code> (static files, about 154 kB gzipped) that computes this assessment in the page with the component's own validation, and sends nothing anywhere once loaded.</p>
<h2>Endpoints</h2>
<table><tr><th>Endpoint</th><th>What</th><th>Statuses</th></tr>
{endpoints}</table>
<h2>Predict</h2>
<pre>curl -s http://127.0.0.1:3000/predict -H 'content-type: application/json' \
  -d '{example}'</pre>
<p>One patient object, or <code>{{"instances": [patient, ...]}}</code> with 1 to {max_batch} patients (body at most {max_body} bytes).
Each answer has <code>prediction</code> (1 when probability &ge; {threshold}), <code>probability</code>,
<code>risk_level</code> (low &lt; {moderate}, moderate &lt; {high}, high otherwise), <code>contributions</code> (each feature's
term in the logit), <code>intercept</code> and <code>imputed</code>.</p>
<h2>Patient fields</h2>
<table><tr><th>Field</th><th>Meaning</th><th>Valid values</th><th></th></tr>
{features}</table>
<h2>Errors</h2>
<p>Native endpoints answer errors as <code>application/problem+json</code> with <code>title</code>, <code>status</code>,
<code>detail</code> and, for a bad body, <code>errors: [{{"field": "/cp", "reason": "..."}}]</code> naming every offending field.
400: not JSON or a body cut short; 404: unknown path; 408: a body that pauses {idle} s or averages under {rate} bytes/s after its first {start} s;
405: wrong method (with <code>Allow</code>; every GET endpoint also answers HEAD); 413: body over {max_body} bytes;
415: not <code>application/json</code>; 422: invalid values, types, missing, unknown or repeated fields, bad batch size.
The Open Inference Protocol endpoints answer <code>{{"error": "..."}}</code> with 400 or 404.</p>
<h2>The model, in pictures</h2>
{figures}
<h2>Open Inference Protocol</h2>
<p>Model <code>heart-disease</code>: send one FP64 tensor <code>patients</code> of shape [N, 13] in the order
{order}, or one tensor per feature of shape [N]. Outputs <code>probability</code> (FP64) and <code>prediction</code> (INT64).
Tensors may go both ways as binary data (<code>{header_length}</code>, <code>binary_data_size</code>, <code>binary_data_output</code>), as Triton's clients send and read them.</p>
</body></html>
"#,
        version = heart_model::MODEL_VERSION,
        figures = figures,
        example = escape(&example),
        max_batch = MAX_BATCH,
        max_body = MAX_BODY_BYTES,
        idle = BODY_IDLE_TIMEOUT.as_secs(),
        rate = BODY_MIN_RATE,
        start = BODY_START.as_secs(),
        header_length = OIP_HEADER_LENGTH,
        threshold = DECISION_THRESHOLD,
        moderate = MODERATE_RISK_FROM,
        high = HIGH_RISK_FROM,
        order = FEATURES
            .iter()
            .map(|f| format!("<code>{}</code>", f.name))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_is_described_with_its_rule() {
        let doc = openapi();
        let patient = &doc["components"]["schemas"]["Patient"];
        assert_eq!(patient["properties"].as_object().unwrap().len(), N_FEATURES);
        assert_eq!(patient["properties"]["cp"]["enum"], json!([1, 2, 3, 4]));
        assert_eq!(
            patient["properties"]["thal"]["enum"],
            json!([3, 6, 7, null])
        );
        assert_eq!(patient["properties"]["age"]["minimum"], json!(18.0));
        assert_eq!(patient["required"].as_array().unwrap().len(), 10);
    }

    #[test]
    fn the_page_is_small_and_self_contained() {
        let html = docs_html(&openapi());
        assert!(html.len() <= 50 * 1024, "{} bytes", html.len());
        for external in ["src=\"http", "href=\"http", "<script src", "<link"] {
            assert!(!html.contains(external), "external asset: {external}");
        }
        assert!(html.contains("<code>thalach</code>"));
    }
}
