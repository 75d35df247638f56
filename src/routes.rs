//! The endpoints: a routing table and one small function per endpoint, from a request to a
//! response. The Open Inference Protocol's endpoints are in [`crate::oip`].

use crate::http::{Request, Response};
use heart_model::request::{PredictRequest, RequestError, MAX_ERRORS};
use heart_model::{MODEL_CARD_JSON, MODEL_VERSION};
use serde::Serialize;

use crate::log::BATCH_SIZE_HEADER;
use crate::oip;
use crate::response::{json, json_bytes, problem, typed, Status};
use crate::router::{self, Found, Params, Route};

/// Every endpoint, with the only method it answers.
pub const ROUTES: &[Route] = &[
    Route::post("/predict", predict),
    Route::get("/health", health),
    Route::get("/model", model_card),
    Route::get("/model/figures/:name", model_figure),
    Route::get("/openapi.json", openapi),
    Route::get("/docs", docs),
    Route::get("/v2", oip::server_metadata),
    Route::get("/v2/health/live", oip::live),
    Route::get("/v2/health/ready", oip::ready),
    Route::get("/v2/models/:model", oip::model_metadata),
    Route::get("/v2/models/:model/ready", oip::model_ready),
    Route::post("/v2/models/:model/infer", oip::infer),
    Route::get("/v2/models/:model/versions/:version", oip::model_metadata),
    Route::get(
        "/v2/models/:model/versions/:version/ready",
        oip::model_ready,
    ),
    Route::post("/v2/models/:model/versions/:version/infer", oip::infer),
];

/// Routes a request. Unknown paths are 404 and known paths with another method 405 with
/// `Allow`, as problem+json — or as the protocol's `{"error"}` under `/v2`.
pub fn respond(req: &Request) -> Response {
    let path = req.path();
    let protocol = path == "/v2" || path.starts_with("/v2/");
    match router::find(ROUTES, req.method(), path) {
        Found::Route(handler, params) => handler(req, &params),
        Found::WrongMethod(allow) => {
            let detail = format!("{} is not allowed on {path}; use {allow}.", req.method());
            let mut response = if protocol {
                oip::error(405, &detail)
            } else {
                problem(Status::MethodNotAllowed, &detail, &[])
            };
            response.set_header("allow", allow);
            response
        }
        Found::NotFound if protocol => oip::error(404, &format!("No endpoint at {path}; see GET /openapi.json.")),
        Found::NotFound => problem(
            Status::NotFound,
            &format!(
                "No endpoint at {path}. The API serves POST /predict, GET /health, GET /model, GET /docs, \
                 GET /openapi.json and the Open Inference Protocol under /v2."
            ),
            &[],
        ),
    }
}

/// The OpenAPI 3.1 document, generated at build time from the feature table (build.rs).
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
/// The HTML API reference, generated with the OpenAPI document.
pub const DOCS_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/docs.html"));

/// `GET /openapi.json`.
fn openapi(_: &Request, _: &Params) -> Response {
    json_bytes(OPENAPI_JSON)
}

/// `GET /docs`.
fn docs(_: &Request, _: &Params) -> Response {
    typed(200, "text/html; charset=utf-8", DOCS_HTML)
}

/// `POST /predict`: one patient object, or `{"instances": [...]}` with 1 to 1000 patients.
fn predict(req: &Request, _: &Params) -> Response {
    if let Some(refusal) = require_json(req) {
        return refusal;
    }
    match PredictRequest::from_json_bytes(req.body()) {
        Ok(request) => {
            let mut response = json_bytes(request.answer_json());
            response.set_header(BATCH_SIZE_HEADER, request.patients().len().to_string());
            response
        }
        Err(RequestError::Syntax(message)) => problem(
            Status::BadRequest,
            &format!("The body is not valid JSON: {message}."),
            &[],
        ),
        Err(RequestError::Invalid { errors, total }) => {
            let detail = if total > errors.len() {
                format!("{total} fields are invalid; the first {MAX_ERRORS} are listed.")
            } else {
                format!("{total} field(s) invalid; see errors.")
            };
            problem(Status::UnprocessableContent, &detail, &errors)
        }
    }
}

/// `GET /health`: liveness and readiness for Kubernetes probes.
fn health(_: &Request, _: &Params) -> Response {
    json(&Health {
        status: "ok",
        model_version: MODEL_VERSION,
    })
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    model_version: &'static str,
}

/// `GET /model`: the model card written by the trainer.
fn model_card(_: &Request, _: &Params) -> Response {
    json_bytes(MODEL_CARD_JSON)
}

/// The model card's figures, drawn by the trainer from its cross-validation
/// (`model/figures/`, listed in the card's `figures`): file name and SVG text.
pub const MODEL_FIGURES: &[(&str, &str)] = &[
    ("roc.svg", include_str!("../model/figures/roc.svg")),
    (
        "calibration.svg",
        include_str!("../model/figures/calibration.svg"),
    ),
    (
        "coefficients.svg",
        include_str!("../model/figures/coefficients.svg"),
    ),
];

/// `GET /model/figures/{name}`: one of the model card's figures, as SVG.
fn model_figure(_: &Request, params: &Params) -> Response {
    let name = params.get("name").unwrap_or("");
    match MODEL_FIGURES.iter().find(|(file, _)| *file == name) {
        Some((_, svg)) => typed(200, "image/svg+xml", *svg),
        None => {
            let names: Vec<&str> = MODEL_FIGURES.iter().map(|(file, _)| *file).collect();
            problem(
                Status::NotFound,
                &format!(
                    "No figure {name:?}; the model card's figures are {}.",
                    names.join(", ")
                ),
                &[],
            )
        }
    }
}

/// 415 unless the body is declared as JSON (`application/json`, parameters allowed).
fn require_json(req: &Request) -> Option<Response> {
    let declared = req.header("content-type").unwrap_or("");
    let media_type = declared.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        return None;
    }
    let found = if declared.is_empty() {
        "none".to_string()
    } else {
        format!("{declared:?}")
    };
    Some(problem(
        Status::UnsupportedMediaType,
        &format!("Send the body as Content-Type: application/json (found {found})."),
        &[],
    ))
}
