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
    //! The OpenAPI document, as the service serves it, against what the service does: the
    //! document is generated from the feature table apart from the routing table and the
    //! endpoints, so each is checked by asking `respond` with real requests.

    use super::*;
    use crate::http::Method;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// The methods a request may come with, as the document spells them.
    const METHODS: [&str; 7] = ["get", "head", "post", "put", "delete", "patch", "options"];

    /// A method as the document spells it (lower case).
    fn method(name: &str) -> Method {
        Method::from(name.to_ascii_uppercase().as_str())
    }

    fn call(method: Method, path: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        let headers = content_type
            .map(|ct| vec![("content-type".to_string(), ct.as_bytes().to_vec())])
            .unwrap_or_default();
        crate::respond(Request::new(method, path, headers, body.to_vec()))
    }

    /// The OpenAPI document as `GET /openapi.json` serves it.
    fn document() -> Value {
        let response = call(Method::Get, "/openapi.json", None, b"");
        assert_eq!(response.status(), 200);
        serde_json::from_slice(response.body()).expect("the document is JSON")
    }

    /// Every documented operation: its method, path template and description.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let paths = doc["paths"].as_object().expect("paths");
        assert!(!paths.is_empty());
        paths
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .expect("operations")
                    .iter()
                    .map(|(m, op)| (m.clone(), path.clone(), op.clone()))
            })
            .collect()
    }

    /// The path with each `{parameter}` filled as the operation documents it (its example,
    /// else the first value of its enum); `miss` names one to fill with a value no one serves.
    fn concrete(template: &str, op: &Value, miss: Option<&str>) -> String {
        let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
        template
            .split('/')
            .map(|segment| {
                let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                    return segment.to_string();
                };
                if miss == Some(name) {
                    return "no-such-thing".to_string();
                }
                let p = parameters
                    .iter()
                    .find(|p| p["name"] == name && p["in"] == "path")
                    .unwrap_or_else(|| panic!("{template}: {{{name}}} is not documented"));
                let value = p.get("example").unwrap_or(&p["schema"]["enum"][0]);
                value
                    .as_str()
                    .unwrap_or_else(|| panic!("{template}: no value for {{{name}}}"))
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The documented JSON request bodies of an operation (its `example` and `examples`).
    fn example_bodies(op: &Value) -> Vec<Vec<u8>> {
        let content = &op["requestBody"]["content"]["application/json"];
        let mut bodies: Vec<&Value> = content.get("example").into_iter().collect();
        if let Some(examples) = content["examples"].as_object() {
            bodies.extend(examples.values().map(|e| &e["value"]));
        }
        bodies
            .into_iter()
            .map(|b| serde_json::to_vec(b).unwrap())
            .collect()
    }

    /// A request the operation answers with 200: a GET, or a POST of each documented example.
    fn successful(m: &str, path: &str, op: &Value) -> Vec<Response> {
        if m == "get" {
            return vec![call(Method::Get, path, None, b"")];
        }
        let bodies = example_bodies(op);
        assert!(!bodies.is_empty(), "{m} {path} documents no example body");
        bodies
            .iter()
            .map(|body| call(method(m), path, Some("application/json"), body))
            .collect()
    }

    /// The response's media type, which the operation must document for its status.
    fn assert_documented_media_type(response: &Response, op: &Value, status: &str, what: &str) {
        let media_type = response.header("content-type").unwrap_or_default();
        let media_type = media_type.split(';').next().unwrap().trim();
        let documented = &op["responses"][status]["content"];
        assert!(
            documented.get(media_type).is_some(),
            "{what}: {status} answered as {media_type}, documented as {documented}"
        );
    }

    /// Each documented operation is served: a documented example (or a plain GET) is
    /// answered 200, with a documented media type and the documented model version.
    #[test]
    fn every_documented_operation_answers_its_examples() {
        let doc = document();
        let version = &doc["components"]["headers"]["ModelVersion"]["schema"]["const"];
        for (m, template, op) in operations(&doc) {
            let path = concrete(&template, &op, None);
            let what = format!("{m} {path}");
            for response in successful(&m, &path, &op) {
                assert_eq!(
                    response.status(),
                    200,
                    "{what}: {}",
                    String::from_utf8_lossy(response.body())
                );
                assert_documented_media_type(&response, &op, "200", &what);
                assert_eq!(
                    response.header("x-model-version"),
                    version.as_str(),
                    "{what}"
                );
                // The answer documented as an example is (a part of) the one given.
                if let Some(example) =
                    op["responses"]["200"]["content"]["application/json"].get("example")
                {
                    let got: Value = serde_json::from_slice(response.body()).unwrap();
                    for (key, value) in example.as_object().unwrap() {
                        assert_eq!(&got[key], value, "{what}: {key}");
                    }
                }
            }
        }
    }

    /// Every status an operation documents is one its endpoint answers, provoked by a request
    /// made for it, in a documented media type.
    #[test]
    fn every_documented_status_is_answered() {
        let doc = document();
        let mut provoked = BTreeSet::new();
        for (m, template, op) in operations(&doc) {
            let responses = op["responses"].as_object().expect("responses");
            for status in responses.keys() {
                let path = concrete(&template, &op, None);
                let what = format!("{m} {template} {status}");
                let json = Some("application/json");
                let response = match status.as_str() {
                    "200" => successful(&m, &path, &op).remove(0),
                    "400" => call(method(&m), &path, json, b"{\"age\": 63,"),
                    "404" => {
                        let param = op["parameters"]
                            .as_array()
                            .and_then(|ps| ps.iter().find(|p| p["in"] == "path"))
                            .unwrap_or_else(|| panic!("{what}: no path parameter to miss"));
                        let missing = concrete(&template, &op, param["name"].as_str());
                        successful(&m, &missing, &op).remove(0)
                    }
                    "415" => {
                        let body = &example_bodies(&op)[0];
                        call(method(&m), &path, Some("text/plain"), body)
                    }
                    "422" => call(method(&m), &path, json, b"{}"),
                    // The edge's refusals while it reads a body (src/host.rs in the
                    // component); respond() never sees such a request.
                    "408" | "413" => {
                        assert!(op.get("requestBody").is_some(), "{what}: no body to refuse");
                        continue;
                    }
                    other => panic!("{what}: documented, but this test cannot provoke {other}"),
                };
                assert_eq!(
                    response.status().to_string(),
                    *status,
                    "{what}: {}",
                    String::from_utf8_lossy(response.body())
                );
                assert_documented_media_type(&response, &op, status, &what);
                provoked.insert(status.clone());
            }
        }
        // Each way of provoking a status above was used.
        let all: BTreeSet<String> = ["200", "400", "404", "415", "422"].map(String::from).into();
        assert_eq!(provoked, all);
    }

    /// The document and the router name the same operations: each route of the table is
    /// documented, and on each documented path the methods the router lets through are the
    /// documented ones (and HEAD with GET); any other is 405 with exactly those in `Allow`.
    #[test]
    fn documented_operations_are_the_routed_ones() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, path, _)| (m, path))
            .collect();
        for route in ROUTES {
            let template: Vec<String> = route
                .pattern
                .split('/')
                .map(|seg| {
                    seg.strip_prefix(':')
                        .map_or(seg.to_string(), |n| format!("{{{n}}}"))
                })
                .collect();
            let key = (route.method.to_string().to_lowercase(), template.join("/"));
            assert!(
                documented.contains(&key),
                "{key:?} is routed but not documented"
            );
        }
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let mut allowed: BTreeSet<&str> = ops
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            if allowed.contains("get") {
                allowed.insert("head");
            }
            let op = ops.as_object().unwrap().values().next().unwrap();
            let concrete = concrete(path, op, None);
            for m in METHODS {
                let response = call(method(m), &concrete, None, b"");
                let what = format!("{m} {concrete}");
                if allowed.contains(m) {
                    assert!(
                        ![404, 405].contains(&response.status()),
                        "{what}: {}",
                        response.status()
                    );
                    continue;
                }
                assert_eq!(response.status(), 405, "{what}");
                let allow: BTreeSet<String> = response
                    .header("allow")
                    .expect("405 names what is allowed")
                    .split(", ")
                    .map(|m| m.to_lowercase())
                    .collect();
                let allowed: BTreeSet<String> = allowed.iter().map(|m| m.to_string()).collect();
                assert_eq!(allow, allowed, "{what}");
            }
        }
    }
}
