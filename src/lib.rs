//! The heart-disease-api Spin component: a wasi:http 0.2 handler around the pure model core
//! ([`heart_model`]). This file is the entry point only; the endpoints are in [`routes`], the
//! bounded body reading in [`body`], the response shapes in [`response`], the request log in
//! [`log`].

pub mod body;
pub mod log;
pub mod oip;
pub mod response;
pub mod router;
pub mod routes;
pub mod wit_export;

use spin_sdk::http::{IncomingRequest, Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;

/// Every request: read the body (at most [`body::MAX_BODY_BYTES`]), then [`respond`].
/// Exported only when built for WebAssembly: the export's names are not valid symbols for a
/// native shared library, and native builds exist for tests, fuzzing and clippy.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub async fn handle(request: IncomingRequest) -> Response {
    let caller_id = request
        .headers()
        .get(log::REQUEST_ID_HEADER)
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let log = log::RequestLog::start(
        &request.method(),
        &request.path_with_query().unwrap_or_default(),
        caller_id.as_deref(),
    );
    let mut response = match body::read_bounded(request).await {
        Ok(request) => respond(request).await,
        Err(refusal) => stamp(refusal),
    };
    log.finish(&mut response);
    response
}

/// The whole request path once the body is read: routing, parsing, validation, prediction,
/// serialisation, and the `x-model-version` header. It calls nothing of the host, so the
/// fuzzer and the property tests run exactly this natively
/// (`futures::executor::block_on(respond(request))`).
pub async fn respond(request: Request) -> Response {
    stamp(routes::respond(&request))
}

fn stamp(mut response: Response) -> Response {
    response.set_header(response::MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
