//! Reads a request body without ever holding more than [`MAX_BODY_BYTES`] of it, nor waiting
//! more than [`READ_TIMEOUT`] for it: a declared `Content-Length` over the limit is refused
//! before reading, a streamed body as soon as it passes the limit, and a body that stalls when
//! the deadline passes.

use std::time::Duration;

use spin_sdk::http::{IncomingRequest, Request, Response};
use wasi::clocks::monotonic_clock;
use wasi::io::streams::StreamError;

use crate::response::{problem, Status};

use heart_model::request::BODY_READ_TIMEOUT_SECS;
pub use heart_model::request::MAX_BODY_BYTES;

/// How long a client may take to send its whole body
/// ([`heart_model::request::BODY_READ_TIMEOUT_SECS`]).
pub const READ_TIMEOUT: Duration = Duration::from_secs(BODY_READ_TIMEOUT_SECS);

/// The request with its body read, or the response that refuses it.
pub async fn read_bounded(incoming: IncomingRequest) -> Result<Request, Response> {
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
    let body = read_body(incoming)?;
    Ok(request.body(body).build())
}

/// Reads the body stream, waiting on it and on the deadline together whenever it has
/// nothing to give.
fn read_body(incoming: IncomingRequest) -> Result<Vec<u8>, Response> {
    let unreadable = || {
        problem(
            Status::BadRequest,
            "The request body could not be read to its end.",
            &[],
        )
    };
    let incoming_body = incoming.consume().map_err(|()| unreadable())?;
    let stream = incoming_body.stream().map_err(|()| unreadable())?;
    let deadline = monotonic_clock::now().saturating_add(READ_TIMEOUT.as_nanos() as u64);
    let mut body = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                if monotonic_clock::now() >= deadline {
                    return Err(problem(
                        Status::RequestTimeout,
                        &format!(
                            "The request body did not arrive within {} s.",
                            READ_TIMEOUT.as_secs()
                        ),
                        &[],
                    ));
                }
                let readable = stream.subscribe();
                let timer = monotonic_clock::subscribe_instant(deadline);
                wasi::io::poll::poll(&[&readable, &timer]);
            }
            Ok(chunk) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
        }
    }
}

fn too_large() -> Response {
    problem(
        Status::PayloadTooLarge,
        &format!("The request body exceeds {MAX_BODY_BYTES} bytes; send at most 1000 patients per request, without padding."),
        &[],
    )
}
