//! The heart-disease-api Spin component: a wasi:http 0.2 handler around the wire format
//! ([`heart_wire`]) and the pure model core ([`heart_model`]).
//!
//! - `host`: wasi:http in and out: the request and response types, bounded reading, sending;
//! - `routes`: the routing table, its matcher, the endpoints, problem+json;
//! - `oip`: the Open Inference Protocol's endpoints;
//! - `log`: one JSON line per request;
//! - `wit_export`: the typed `heart:predictor` export, for hosts without HTTP.

mod host;
mod log;
mod oip;
mod routes;
mod wit_export;

use heart_wire::names::{MODEL_VERSION_HEADER, REQUEST_ID_HEADER};
pub use host::{Method, Request, Response};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

/// Every request: read it (a body of at most [`heart_wire::limits::MAX_BODY_BYTES`]),
/// [`respond`], log, send. Exported only when built for WebAssembly: the export's names are
/// not valid symbols for a native shared library, and native builds exist for tests, fuzzing
/// and clippy.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub fn handle(incoming: IncomingRequest, out: ResponseOutparam) {
    let started = monotonic_clock::now();
    let head = host::read_head(&incoming);
    let log = log::RequestLog::start(
        started,
        head.method(),
        head.path(),
        head.header(REQUEST_ID_HEADER),
    );
    let mut response = match host::read_bounded(head, incoming, started) {
        Ok(request) => respond(request),
        Err(refusal) => stamp(refusal),
    };
    log.finish(&mut response, monotonic_clock::now());
    host::send(response, out);
}

/// The whole request path once the body is read: routing, parsing, validation, prediction,
/// serialisation, and the `x-model-version` header. It calls nothing of the host, so the
/// fuzzer and the property tests run exactly this natively.
pub fn respond(request: Request) -> Response {
    stamp(routes::respond(&request))
}

fn stamp(mut response: Response) -> Response {
    response.set_header(MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
