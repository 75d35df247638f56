//! The heart-disease-api Spin component: a wasi:http 0.2 handler around the pure model core
//! ([`heart_model`]). This file is the entry point only; the endpoints are in [`routes`], the
//! bounded body reading in [`body`], the response shapes in [`response`].

pub mod body;
pub mod response;
pub mod routes;

use spin_sdk::http::{IncomingRequest, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;

/// Every request: read the body (at most [`body::MAX_BODY_BYTES`]), route it, stamp the model
/// version on the answer. Exported only when built for WebAssembly: the export's names are
/// not valid symbols for a native shared library, and native builds serve for clippy only.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub async fn handle(request: IncomingRequest) -> Response {
    let mut response = match body::read_bounded(request).await {
        Ok(request) => routes::router().handle_async(request).await,
        Err(refusal) => refusal,
    };
    response.set_header(response::MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
