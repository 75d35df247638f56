//! The endpoints. Each is a small function from a request to a response; the router sends
//! anything else to a problem+json 404 or 405.

use heart_model::request::{PredictRequest, RequestError, MAX_ERRORS};
use heart_model::{Assessment, MODEL, MODEL_CARD_JSON, MODEL_VERSION};
use serde::Serialize;
use spin_sdk::http::{Params, Request, Response, Router};

use crate::log::BATCH_SIZE_HEADER;
use crate::response::{json, json_bytes, problem, Status};

/// The routes, each with the only method it answers.
pub fn router() -> Router {
    let mut router = Router::new();
    router.post("/predict", predict);
    router.get("/health", health);
    router.get("/model", model_card);
    for (path, allow) in [("/predict", "POST"), ("/health", "GET"), ("/model", "GET")] {
        router.any(path, move |req: Request, _: Params| {
            method_not_allowed(&req, allow)
        });
    }
    router.any("/*", not_found);
    router
}

/// `POST /predict`: one patient object, or `{"instances": [...]}` with 1 to 1000 patients.
fn predict(req: Request, _: Params) -> Response {
    if let Some(refusal) = require_json(&req) {
        return refusal;
    }
    match PredictRequest::from_json_bytes(req.body()) {
        Ok(PredictRequest::Single(patient)) => {
            let assessment = MODEL.assess(&patient);
            with_batch_size(
                json(&Single {
                    model_version: MODEL_VERSION,
                    assessment,
                }),
                1,
            )
        }
        Ok(PredictRequest::Batch(patients)) => {
            let predictions: Vec<Assessment> = patients.iter().map(|p| MODEL.assess(p)).collect();
            let n = predictions.len();
            with_batch_size(
                json(&Batch {
                    model_version: MODEL_VERSION,
                    predictions,
                }),
                n,
            )
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

fn with_batch_size(mut response: Response, n: usize) -> Response {
    response.set_header(BATCH_SIZE_HEADER, n.to_string());
    response
}

/// A single patient's answer: the assessment with the model version beside it.
#[derive(Serialize)]
struct Single {
    model_version: &'static str,
    #[serde(flatten)]
    assessment: Assessment,
}

/// A batch's answer: one assessment per patient, in request order.
#[derive(Serialize)]
struct Batch {
    model_version: &'static str,
    predictions: Vec<Assessment>,
}

/// `GET /health`: liveness and readiness for Kubernetes probes.
fn health(_: Request, _: Params) -> Response {
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
fn model_card(_: Request, _: Params) -> Response {
    json_bytes(MODEL_CARD_JSON)
}

/// 415 unless the body is declared as JSON (`application/json`, parameters allowed).
fn require_json(req: &Request) -> Option<Response> {
    let declared = req
        .header("content-type")
        .and_then(|v| v.as_str())
        .unwrap_or("");
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

fn method_not_allowed(req: &Request, allow: &'static str) -> Response {
    let mut response = problem(
        Status::MethodNotAllowed,
        &format!(
            "{} is not allowed on {}; use {allow}.",
            req.method(),
            req.path()
        ),
        &[],
    );
    response.set_header("allow", allow);
    response
}

fn not_found(req: Request, _: Params) -> Response {
    problem(
        Status::NotFound,
        &format!(
            "No endpoint at {}. The API serves POST /predict, GET /health and GET /model.",
            req.path()
        ),
        &[],
    )
}
