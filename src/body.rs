//! Reads a request body without ever holding more than [`MAX_BODY_BYTES`] of it: a declared
//! `Content-Length` over the limit is refused before reading, and a streamed body is refused
//! as soon as it passes the limit.

use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, Request, Response};

use crate::response::{problem, Status};

pub use heart_model::request::MAX_BODY_BYTES;

/// The request with its body read, or the response that refuses it.
pub async fn read_bounded(incoming: IncomingRequest) -> Result<Request, Response> {
    let too_large = || {
        problem(
            Status::PayloadTooLarge,
            &format!("The request body exceeds {MAX_BODY_BYTES} bytes; send at most 1000 patients per request, without padding."),
            &[],
        )
    };
    let declared = incoming
        .headers()
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut request = Request::builder();
    request
        .method(incoming.method())
        .uri(incoming.uri())
        .headers(incoming.headers());
    let mut body = Vec::new();
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(problem(
                Status::BadRequest,
                "The request body could not be read to its end.",
                &[],
            ));
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(request.body(body).build())
}
