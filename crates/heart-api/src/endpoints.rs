//! The native API's endpoints, one small function each from a request (and its path
//! captures) to a response: `POST /predict`, `GET /health`, the model card and its figures,
//! the OpenAPI document and the docs page. The Open Inference Protocol's are in
//! [`crate::oip`]; which request reaches which is [`crate::routes`]' table.
//!
//! The OpenAPI document and the docs page are generated at build time (`build.rs`, from
//! `heart-wire`'s description of the feature table) and baked in here, beside the routes that
//! serve them, so the service answers them with no file system and no start-up work.

use heart_model::{MODEL, MODEL_CARD_JSON, MODEL_VERSION};
use heart_wire::limits::MAX_ERRORS;
use heart_wire::{PredictRequest, RequestError};
use serde::Serialize;

use crate::answer::{json, json_bytes, problem, typed, Status};
use crate::http::{Request, Response};
use crate::router::Params;

/// The OpenAPI 3.1 document, generated at build time from the feature table (build.rs).
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
/// The HTML API reference, generated with the OpenAPI document.
pub const DOCS_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/docs.html"));

/// `GET /openapi.json`.
pub fn openapi(_: &Request, _: &Params) -> Response {
    json_bytes(OPENAPI_JSON)
}

/// `GET /docs`.
pub fn docs(_: &Request, _: &Params) -> Response {
    typed(200, "text/html; charset=utf-8", DOCS_HTML)
}

/// `POST /predict`: one patient object, or `{"instances": [...]}` with 1 to 1000 patients.
pub fn predict(req: &Request, _: &Params) -> Response {
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
pub fn health(_: &Request, _: &Params) -> Response {
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
pub fn model_card(_: &Request, _: &Params) -> Response {
    json_bytes(MODEL_CARD_JSON)
}

/// The model card's figures, drawn by the trainer from its cross-validation
/// (`model/figures/`, listed in the card's `figures`): file name and SVG text.
pub const MODEL_FIGURES: &[(&str, &str)] = &[
    ("roc.svg", include_str!("../../../model/figures/roc.svg")),
    (
        "calibration.svg",
        include_str!("../../../model/figures/calibration.svg"),
    ),
    (
        "coefficients.svg",
        include_str!("../../../model/figures/coefficients.svg"),
    ),
];

/// `GET /model/figures/{name}`: one of the model card's figures, as SVG.
pub fn model_figure(_: &Request, params: &Params) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `POST /predict` with `patient` as the body: its status and the fields its errors name.
    fn post(patient: &serde_json::Value) -> (u16, Vec<String>) {
        let request = Request::new(
            crate::Method::Post,
            "/predict",
            vec![("content-type".into(), b"application/json".to_vec())],
            serde_json::to_vec(patient).unwrap(),
        );
        let response = crate::respond(request);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        let fields = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        (response.status(), fields)
    }

    /// The served document's Patient schema is what `/predict` accepts: starting from the
    /// documented example, each property's documented bounds, levels, whole-number rule and
    /// nullability hold for the endpoint (200 inside, 422 naming the field just outside),
    /// the required ones are exactly those that may not be left out, and no other member is
    /// accepted.
    #[test]
    fn the_documented_patient_is_the_one_predict_accepts() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let schema = &doc["components"]["schemas"]["Patient"];
        let example = &schema["examples"][0];
        assert_eq!(post(example), (200, vec![]), "{example}");
        let with = |name: &str, value: serde_json::Value| {
            let mut patient = example.clone();
            patient[name] = value;
            post(&patient)
        };
        let refused = |name: &str| (422, vec![format!("/{name}")]);
        let properties = schema["properties"].as_object().unwrap();
        let mut required = Vec::new();
        for (name, p) in properties {
            let what = |x: &dyn std::fmt::Display| format!("{name} = {x}");
            if let Some(levels) = p["enum"].as_array() {
                for level in levels {
                    assert_eq!(with(name, level.clone()), (200, vec![]), "{}", what(level));
                }
                let numbers: Vec<f64> = levels.iter().filter_map(|l| l.as_f64()).collect();
                let top = numbers.iter().copied().fold(f64::MIN, f64::max);
                for outside in [top + 1.0, numbers[0] + 0.5, numbers[0] - 1.0] {
                    assert_eq!(
                        with(name, outside.into()),
                        refused(name),
                        "{}",
                        what(&outside)
                    );
                }
            } else {
                let (min, max) = (
                    p["minimum"].as_f64().unwrap(),
                    p["maximum"].as_f64().unwrap(),
                );
                for inside in [min, max, (min + max) / 2.0] {
                    let inside = if p["multipleOf"] == 1 {
                        inside.floor()
                    } else {
                        inside
                    };
                    assert_eq!(
                        with(name, inside.into()),
                        (200, vec![]),
                        "{}",
                        what(&inside)
                    );
                }
                for outside in [min - 1.0, max + 1.0, min - 1e-9, max + 1e-9] {
                    assert_eq!(
                        with(name, outside.into()),
                        refused(name),
                        "{}",
                        what(&outside)
                    );
                }
                let half = min + 0.5;
                let whole_only = p["multipleOf"] == 1;
                let expected = if whole_only {
                    refused(name)
                } else {
                    (200, vec![])
                };
                assert_eq!(with(name, half.into()), expected, "{}", what(&half));
            }
            let nullable = p["type"]
                .as_array()
                .is_some_and(|t| t.contains(&"null".into()))
                || p["enum"]
                    .as_array()
                    .is_some_and(|l| l.contains(&serde_json::Value::Null));
            let mut without = example.clone();
            without.as_object_mut().unwrap().remove(name);
            let (null, absent) = (with(name, serde_json::Value::Null), post(&without));
            if nullable {
                assert_eq!((null, absent), ((200, vec![]), (200, vec![])), "{name}");
            } else {
                assert_eq!((null, absent), (refused(name), refused(name)), "{name}");
                required.push(name.as_str());
            }
        }
        let mut documented: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        documented.sort_unstable();
        required.sort_unstable();
        assert_eq!(documented, required);
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(with("extra", 1.into()), refused("extra"));
        // And the document lists every feature the model reads.
        for f in heart_model::FEATURES.iter() {
            assert!(
                properties.contains_key(f.name),
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
