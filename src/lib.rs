//! The heart-disease-api Spin component: a wasi:http 0.2 handler around the pure model core
//! ([`heart_model`]). This file is the entry point only: the endpoints are in [`routes`] (and
//! [`oip`]), the request and response types in [`http`], the bounded request reading in
//! [`body`], the sending in [`outgoing`], the response shapes in [`response`], the request
//! log in [`log`].

pub mod body;
pub mod http;
pub mod log;
pub mod oip;
pub mod outgoing;
pub mod response;
pub mod router;
pub mod routes;
pub mod wit_export;

pub use http::{Method, Request, Response};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

/// Every request: read it (a body of at most [`body::MAX_BODY_BYTES`]), [`respond`], log,
/// send. Exported only when built for WebAssembly: the export's names are not valid symbols
/// for a native shared library, and native builds exist for tests, fuzzing and clippy.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub fn handle(incoming: IncomingRequest, out: ResponseOutparam) {
    let started = monotonic_clock::now();
    let head = body::read_head(&incoming);
    let log = log::RequestLog::start(
        started,
        head.method(),
        head.path(),
        head.header(log::REQUEST_ID_HEADER),
    );
    let mut response = match body::read_bounded(head, incoming, started) {
        Ok(request) => respond(request),
        Err(refusal) => stamp(refusal),
    };
    log.finish(&mut response, monotonic_clock::now());
    outgoing::send(response, out);
}

/// The whole request path once the body is read: routing, parsing, validation, prediction,
/// serialisation, and the `x-model-version` header. It calls nothing of the host, so the
/// fuzzer and the property tests run exactly this natively.
pub fn respond(request: Request) -> Response {
    stamp(routes::respond(&request))
}

fn stamp(mut response: Response) -> Response {
    response.set_header(response::MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
