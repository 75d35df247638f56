//! The heart-disease-api Spin component: a thin wasi:http 0.2 edge around the service
//! ([`heart_api`], which knows no host), plus the typed `heart:predictor` export.
//!
//! - `host`: wasi:http in and out: bounded reading (limits and deadlines) and sending;
//! - `wit_export`: the typed `heart:predictor` export, for hosts without HTTP.
//!
//! Routing, the endpoints, problem+json, the Open Inference Protocol and the log line's
//! content are all `heart_api`'s: a second edge (wasi:http 0.3, a native server) reuses them
//! without copying, and nothing here is needed to test them.

mod host;
mod wit_export;

use heart_api::RequestLog;
use heart_wire::names::REQUEST_ID_HEADER;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

/// Every request: read it (a body of at most [`heart_wire::limits::MAX_BODY_BYTES`]),
/// [`heart_api::respond`], log, send. Exported only when built for WebAssembly: the export's
/// names are not valid symbols for a native shared library, and native builds exist for
/// clippy and the tests.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub fn handle(incoming: IncomingRequest, out: ResponseOutparam) {
    let started = monotonic_clock::now();
    let head = host::read_head(&incoming);
    let log = RequestLog::start(
        started,
        head.method(),
        head.path(),
        head.header(REQUEST_ID_HEADER),
    );
    let mut response = match host::read_bounded(head, incoming, started) {
        Ok(request) => heart_api::respond(request),
        Err(refusal) => heart_api::stamp(refusal),
    };
    write_stderr(&log.finish(&mut response, monotonic_clock::now()));
    host::send(response, out);
}

/// Writes one whole log line in a single call to the host: `eprintln!` would format through
/// `std::fmt` and hand the line and its newline over separately, which costs more than the
/// rest of the log line in `wasmtime serve` (measured: bench/RESULTS.md, the log line's row of
/// "What brought ours …"). A line too long for one write (4096 bytes,
/// which a path of at most 200 characters cannot reach) is dropped rather than split.
fn write_stderr(line: &[u8]) {
    if !line.is_empty() {
        let _ = wasi::cli::stderr::get_stderr().blocking_write_and_flush(line);
    }
}

#[cfg(test)]
mod tests {
    /// `GET /v2` names the server as this component, which heart-api writes out.
    #[test]
    fn the_protocol_names_this_component() {
        assert_eq!(heart_api::oip::SERVER_NAME, env!("CARGO_PKG_NAME"));
        assert_eq!(heart_api::oip::SERVER_VERSION, env!("CARGO_PKG_VERSION"));
    }
}
