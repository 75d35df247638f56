//! The routing table, and what a request that matches no route is answered: unknown paths
//! are 404, known paths with another method 405 with `Allow`, as problem+json — or as the
//! protocol's `{"error"}` under `/v2`. The matching itself is [`crate::router`]'s; the
//! endpoints are [`crate::endpoints`]' and [`crate::oip`]'s.

use crate::answer::{problem, Status};
use crate::endpoints::{docs, health, model_card, model_figure, openapi, predict};
use crate::http::{Request, Response};
use crate::oip;
use crate::router::{find, Lookup, Route};

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

/// Routes a request (without the `x-model-version` stamp: [`crate::respond`]). Unknown paths are 404 and known paths with another method 405 with
/// `Allow`, as problem+json — or as the protocol's `{"error"}` under `/v2`.
pub fn route(req: &Request) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::OPENAPI_JSON;

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
}
