//! The heart-disease-api Spin component: a wasi:http 0.2 handler around the pure model core
//! ([`heart_model`]). This file is the entry point only; the endpoints are in [`routes`], the
//! bounded body reading in [`body`], the response shapes in [`response`].

pub mod body;
pub mod response;
pub mod routes;

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

/// Every request: read the body (at most [`body::MAX_BODY_BYTES`]), route it, stamp the model
/// version on the answer.
#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    let mut response = match body::read_bounded(request).await {
        Ok(request) => routes::router().handle_async(request).await,
        Err(refusal) => refusal,
    };
    response.set_header(response::MODEL_VERSION_HEADER, heart_model::MODEL_VERSION);
    response
}
