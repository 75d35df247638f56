//! The endpoints: the routing table, its matcher, one small function per endpoint (from a
//! request to a response; the Open Inference Protocol's are in [`crate::oip`]), and the shapes
//! of what they answer: JSON documents and RFC 9457 problem details.
//!
//! **The matcher** is a small static router: a table of method, path pattern and handler,
//! where a `:name` segment captures that part of the path. A path that some route knows under
//! another method is a 405 with the `Allow` it needs; anything else is a 404. `HEAD` goes
//! wherever `GET` goes (RFC 9110 §9.3.2: the same status and headers, and the host sends no
//! body), so every `GET` route allows `GET, HEAD`.
//!
//! spin-sdk's `Router` does the same with a trie built per request and boxed async handlers;
//! every request builds a fresh instance here, so a constant table is both faster and
//! smaller in the `.wasm`.

use heart_model::{FieldError, MODEL, MODEL_CARD_JSON, MODEL_VERSION};
use heart_wire::limits::MAX_ERRORS;
use heart_wire::{PredictRequest, RequestError};
use serde::Serialize;

use crate::host::{Method, Request, Response};
use crate::oip;

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
    match find(ROUTES, req.method(), path) {
        Lookup::Route(handler, params) => handler(req, &params),
        Lookup::WrongMethod(allow) => {
            let detail = format!("{} is not allowed on {path}; use {allow}.", req.method());
            let mut response = if protocol {
                oip::error(405, &detail)
            } else {
                problem(Status::MethodNotAllowed, &detail, &[])
            };
            response.set_header("allow", allow);
            response
        }
        Lookup::NotFound if protocol => oip::error(404, &format!("No endpoint at {path}; see GET /openapi.json.")),
        Lookup::NotFound => problem(
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
            let mut response = json_bytes(request.answer_json(&MODEL, MODEL_VERSION));
            response.set_batch_size(request.patients().len());
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

// ---------------------------------------------------------------------------------------
// The matcher
// ---------------------------------------------------------------------------------------

/// An endpoint: what it does with a request and its path captures.
pub type Handler = fn(&Request, &Params) -> Response;

/// One row of the routing table.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub handler: Handler,
}

impl Route {
    pub const fn get(pattern: &'static str, handler: Handler) -> Route {
        Route {
            method: Method::Get,
            pattern,
            handler,
        }
    }

    pub const fn post(pattern: &'static str, handler: Handler) -> Route {
        Route {
            method: Method::Post,
            pattern,
            handler,
        }
    }
}

/// The `:name` segments a route captured.
#[derive(Debug, Default)]
pub struct Params<'a> {
    captures: Vec<(&'static str, &'a str)>,
}

impl Params<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Where a request goes.
pub enum Lookup<'a> {
    Route(Handler, Params<'a>),
    /// The path exists, with these methods only (for `Allow`).
    WrongMethod(String),
    NotFound,
}

/// Looks a request up in the table; a `HEAD` request finds the `GET` route.
pub fn find<'a>(routes: &[Route], method: &Method, path: &'a str) -> Lookup<'a> {
    let method = match method {
        Method::Head => &Method::Get,
        other => other,
    };
    let mut allow: Vec<String> = Vec::new();
    for route in routes {
        if let Some(params) = captures(route.pattern, path) {
            if route.method == *method {
                return Lookup::Route(route.handler, params);
            }
            let heads = (route.method == Method::Get).then_some(Method::Head);
            for m in std::iter::once(&route.method).chain(&heads) {
                let m = m.to_string();
                if !allow.contains(&m) {
                    allow.push(m);
                }
            }
        }
    }
    if allow.is_empty() {
        Lookup::NotFound
    } else {
        Lookup::WrongMethod(allow.join(", "))
    }
}

fn captures<'a>(pattern: &'static str, path: &'a str) -> Option<Params<'a>> {
    let mut params = Params::default();
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with(':') && !g.is_empty() => {
                params.captures.push((&w[1..], g))
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// The statuses the component answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableContent,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PayloadTooLarge => 413,
            Status::UnsupportedMediaType => 415,
            Status::UnprocessableContent => 422,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PayloadTooLarge => "Content Too Large",
            Status::UnsupportedMediaType => "Unsupported Media Type",
            Status::UnprocessableContent => "Unprocessable Content",
        }
    }
}

/// A 200 with a JSON document.
pub fn json(value: &impl Serialize) -> Response {
    json_with_status(200, value)
}

/// A JSON document with any status.
pub fn json_with_status(status: u16, value: &impl Serialize) -> Response {
    // Serialising our own plain structs to memory cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    typed(status, "application/json", body)
}

/// A 200 with JSON that is already bytes.
pub fn json_bytes(body: impl Into<Vec<u8>>) -> Response {
    typed(200, "application/json", body)
}

/// A response with a body of the given media type.
pub fn typed(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
    Response::new(status, content_type, body.into())
}

#[derive(Serialize)]
struct Problem<'a> {
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [WireFieldError<'a>],
}

#[derive(Serialize)]
struct WireFieldError<'a> {
    field: &'a str,
    reason: &'a str,
}

/// An `application/problem+json` answer: what went wrong (`detail`) and, for a bad body,
/// every offending field (a JSON Pointer) with the reason.
pub fn problem(status: Status, detail: &str, errors: &[FieldError]) -> Response {
    let errors: Vec<WireFieldError> = errors
        .iter()
        .map(|e| WireFieldError {
            field: &e.field,
            reason: &e.reason,
        })
        .collect();
    let body = serde_json::to_vec(&Problem {
        title: status.title(),
        status: status.code(),
        detail,
        errors: &errors,
    })
    .unwrap_or_default();
    typed(status.code(), "application/problem+json", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request, _: &Params) -> Response {
        Response::new(200, "text/plain", Vec::new())
    }

    fn created(_: &Request, _: &Params) -> Response {
        Response::new(201, "text/plain", Vec::new())
    }

    /// A table of its own for the matcher, apart from the real one.
    const SAMPLE: &[Route] = &[
        Route::post("/predict", ok),
        Route::get("/v2/models/:model", ok),
        Route::get("/v2/models/:model/versions/:version/ready", ok),
        Route::get("/both", ok),
        Route::post("/both", created),
    ];

    fn status(found: Lookup) -> u16 {
        match found {
            Lookup::Route(handler, params) => {
                let req = Request::new(Method::Get, "/", vec![], vec![]);
                handler(&req, &params).status()
            }
            Lookup::WrongMethod(_) => 405,
            Lookup::NotFound => 404,
        }
    }

    #[test]
    fn head_goes_where_get_goes() {
        assert_eq!(status(find(SAMPLE, &Method::Head, "/both")), 200);
        assert_eq!(status(find(SAMPLE, &Method::Post, "/both")), 201);
        match find(SAMPLE, &Method::Head, "/v2/models/heart/versions/7/ready") {
            Lookup::Route(_, p) => assert_eq!(p.get("version"), Some("7")),
            _ => panic!("no match"),
        }
        // Not where only POST goes, and the Allow of a GET route names HEAD.
        assert!(
            matches!(find(SAMPLE, &Method::Head, "/predict"), Lookup::WrongMethod(a) if a == "POST")
        );
        assert!(
            matches!(find(SAMPLE, &Method::Put, "/v2/models/m"), Lookup::WrongMethod(a) if a == "GET, HEAD")
        );
        assert!(
            matches!(find(SAMPLE, &Method::Delete, "/both"), Lookup::WrongMethod(a) if a == "GET, HEAD, POST")
        );
        assert!(matches!(
            find(SAMPLE, &Method::Head, "/nowhere"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn matches_methods_paths_and_captures() {
        assert!(matches!(
            find(SAMPLE, &Method::Post, "/predict"),
            Lookup::Route(..)
        ));
        assert!(
            matches!(find(SAMPLE, &Method::Get, "/predict"), Lookup::WrongMethod(a) if a == "POST")
        );
        assert!(matches!(
            find(SAMPLE, &Method::Post, "/predict/"),
            Lookup::NotFound
        ));
        assert!(matches!(
            find(SAMPLE, &Method::Get, "/v2/models/"),
            Lookup::NotFound
        ));
        match find(SAMPLE, &Method::Get, "/v2/models/heart/versions/7/ready") {
            Lookup::Route(_, p) => assert_eq!(
                (p.get("model"), p.get("version")),
                (Some("heart"), Some("7"))
            ),
            _ => panic!("no match"),
        }
    }

    /// Every problem's title is its status's reason phrase, as RFC 9110 §15 names it: the
    /// `http` crate's table (RFC 7231's phrases) but for the two that RFC 9110 renamed.
    #[test]
    fn titles_are_the_reason_phrases() {
        let all = [
            Status::BadRequest,
            Status::NotFound,
            Status::MethodNotAllowed,
            Status::RequestTimeout,
            Status::PayloadTooLarge,
            Status::UnsupportedMediaType,
            Status::UnprocessableContent,
        ];
        for status in all {
            let reason = http::StatusCode::from_u16(status.code())
                .unwrap()
                .canonical_reason()
                .unwrap();
            let rfc9110 = match reason {
                "Payload Too Large" => "Content Too Large",
                "Unprocessable Entity" => "Unprocessable Content",
                other => other,
            };
            assert_eq!(status.title(), rfc9110, "{}", status.code());
        }
    }

    // The OpenAPI document describes exactly the routing table: every route is documented
    // with its method, and every documented operation is routed.
    #[test]
    fn documented_operations_are_the_routed_ones() {
        use std::collections::BTreeSet;
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| {
                let path: Vec<String> = r
                    .pattern
                    .split('/')
                    .map(|seg| {
                        seg.strip_prefix(':')
                            .map_or(seg.to_string(), |name| format!("{{{name}}}"))
                    })
                    .collect();
                (r.method.to_string().to_lowercase(), path.join("/"))
            })
            .collect();
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        assert_eq!(routed, documented);
    }

    #[test]
    fn the_baked_document_is_generated_from_the_feature_table() {
        let baked: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(baked, heart_wire::openapi::openapi());
        let patient = &baked["components"]["schemas"]["Patient"]["properties"];
        for f in heart_model::FEATURES.iter() {
            assert!(
                patient.get(f.name).is_some(),
                "{} is not documented",
                f.name
            );
        }
    }

    /// The figures the component serves are the ones the model card lists (and documents).
    #[test]
    fn served_figures_are_the_model_cards() {
        let served: Vec<&str> = MODEL_FIGURES.iter().map(|(name, _)| *name).collect();
        let listed: Vec<String> = heart_wire::openapi::model_figures()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(served, listed);
    }
}
