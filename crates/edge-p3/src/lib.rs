//! The heart-disease-api as a wasi:http 0.3 component: the second thin edge around the
//! service ([`heart_api`]), for Spin 4 and containerd-shim-spin ≥ v0.25.
//!
//! It does what the wasi:http 0.2 edge at the top of the repository does — read the request
//! within the same limits and deadlines, [`heart_api::respond`], log one line, send — with
//! wasi 0.3's async streams and timers instead of pollables:
//!
//! - `read`: the request's head, and its body within bounds (256 KiB, the 413 drain, the
//!   408 idle and pace rules);
//! - `send`: the response, and the log line, each on a stream of its own.
//!
//! **Instance reuse.** Spin 4 serves many requests with one instance of a 0.3 component, up
//! to 16 of them at once. Nothing here outlives its request: every buffer, id and log line
//! belongs to one call of [`Edge::handle`] (and to the tasks it spawns to send its answer and
//! its line), and the service keeps no state (its model is a constant). The served tests
//! interleave many concurrent requests to check exactly that.

mod read;
mod send;

use heart_api::RequestLog;
use heart_wire::names::REQUEST_ID_HEADER;
use spin_sdk::wasip3::clocks::monotonic_clock;
use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

/// The component's `wasi:http/handler` export.
pub struct Edge;

#[cfg(target_arch = "wasm32")]
spin_sdk::wasip3::http::service::export!(Edge);

impl spin_sdk::wasip3::exports::http::handler::Guest for Edge {
    /// Every request: read it (a body of at most [`heart_wire::limits::MAX_BODY_BYTES`]),
    /// [`heart_api::respond`], log, send.
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let arrived = monotonic_clock::now();
        let head = read::head(&request);
        let log = RequestLog::start(
            arrived,
            head.method(),
            head.path(),
            head.header(REQUEST_ID_HEADER),
        );
        let mut response = match read::bounded(head, request, arrived).await {
            Ok(request) => heart_api::respond(request),
            Err(refusal) => heart_api::stamp(refusal),
        };
        send::log_line(log.finish(&mut response, monotonic_clock::now()));
        send::response(response)
    }
}
