//! Reads a request from the host without ever holding more than [`MAX_BODY_BYTES`] of its
//! body, nor waiting more than [`READ_TIMEOUT`] on a stalled one: a declared `Content-Length`
//! over the limit is refused before reading, a streamed body as soon as it passes the limit,
//! and a body that stalls when the deadline passes.
//!
//! Every call into the host costs a few microseconds in `wasmtime serve`, far more than the
//! model itself, so the request is read with as few calls as possible: the method, the target
//! and all headers once each, then the body stream until it ends. The clock is asked only when
//! the stream has nothing to give.

use std::time::Duration;

use spin_sdk::http::{IncomingRequest, Method, Request, Response};
use wasi::clocks::monotonic_clock;
use wasi::io::streams::StreamError;

use crate::response::{problem, Status};

use heart_model::request::BODY_READ_TIMEOUT_SECS;
pub use heart_model::request::MAX_BODY_BYTES;

/// How long the body may stall before the request is refused
/// ([`heart_model::request::BODY_READ_TIMEOUT_SECS`]).
pub const READ_TIMEOUT: Duration = Duration::from_secs(BODY_READ_TIMEOUT_SECS);

/// A request's method, target and headers, read from the host once.
pub struct Head {
    pub method: Method,
    /// The path with its query, e.g. `/predict?x=1`.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    pub fn read(incoming: &IncomingRequest) -> Self {
        Head {
            method: incoming.method(),
            target: incoming.path_with_query().unwrap_or_default(),
            headers: incoming.headers().entries(),
        }
    }

    /// The first value of header `name` (ASCII case-insensitive) as text, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The request with its body read, or the response that refuses it.
pub fn read_bounded(head: Head, incoming: IncomingRequest) -> Result<Request, Response> {
    let declared = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = read_body(incoming)?;
    Ok(Request::builder()
        .method(head.method)
        .uri(head.target)
        .headers(head.headers)
        .body(body)
        .build())
}

/// Reads the body stream, waiting on it and on the deadline together whenever it has
/// nothing to give; the deadline runs from the first time it has nothing.
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
    let mut deadline = None;
    let mut body = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                let now = monotonic_clock::now();
                let deadline =
                    *deadline.get_or_insert(now.saturating_add(READ_TIMEOUT.as_nanos() as u64));
                if now >= deadline {
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
