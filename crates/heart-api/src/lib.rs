//! The heart-disease API as a service, apart from any host: everything between "a request was
//! read" and "a response is ready to send" — routing, the endpoints, problem+json, the Open
//! Inference Protocol's endpoints and the log line's content — with [`respond`] as its face.
//!
//! It has no spin-sdk, wasi or wit-bindgen in it, so an edge for any host (the wasi:http 0.2
//! component at the top of the repository, the wasi:http 0.3 one in crates/edge-p3, a native
//! server) reads a
//! request its own way, calls [`respond`], and sends the [`Response`]; the fuzzer, the
//! property tests and the benchmarks call the same function natively.
//!
//! The modules build on each other in one direction only, from the ground floor up:
//!
//! - [`http`]: the plain request and response types, and [`Method`];
//! - [`answer`]: the answer builders (JSON, problem+json and their [`Status`]es);
//! - [`body`]: the limits an edge applies while it reads a body, and its refusals (408, 413,
//!   400): the same for every edge;
//! - [`router`]: the matcher, over any table of routes;
//! - [`endpoints`] (the native API) and [`oip`] (the Open Inference Protocol): one function per
//!   endpoint;
//! - [`routes`]: the table of every endpoint, and the answers to a request that matches none;
//! - [`respond`], here: the route's answer with the `x-model-version` stamp.
//!
//! [`log`] builds the per-request log line from the request and its answer; the edge writes it.

pub mod answer;
pub mod body;
pub mod endpoints;
pub mod http;
pub mod log;
pub mod oip;
pub mod router;
pub mod routes;

use heart_wire::names::MODEL_VERSION_HEADER;

pub use answer::{problem, Status};
pub use http::{Method, Request, Response};
pub use log::RequestLog;

/// The whole request path once the body is read: routing, parsing, validation, prediction,
/// serialisation, and the `x-model-version` header. It calls nothing of the host, so the
/// fuzzer and the property tests run exactly this natively.
pub fn respond(request: Request) -> Response {
    stamp(routes::route(&request))
}

/// Stamps the `x-model-version` header every answer carries, [`respond`]'s and the edge's own
/// refusals alike (a body too large, too slow or unreadable never reaches [`respond`]).
pub fn stamp(mut response: Response) -> Response {
    response.set_header(MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
