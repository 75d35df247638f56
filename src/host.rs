//! The component's side of wasi:http 0.2: reading a request from the host within bounds into
//! the service's plain [`Request`], and handing its [`Response`] back. Everything between is
//! `heart_api`'s, which knows no host; so are the refusals made here (408, 413, 400,
//! [`heart_api::body`]), which the wasi:http 0.3 edge (crates/edge-p3) gives word for word.
//!
//! **Reading** never holds more than [`MAX_BODY_BYTES`] of a body, and applies the body rules
//! of [`heart_api::body`] (the idle and pace deadlines, 408; the 413 and its drain), waiting
//! on the stream and the nearest deadline together with one `poll`.
//!
//! Every call into the host costs a few microseconds in `wasmtime serve`, far more than the
//! model itself, so the request is read with as few calls as possible: the method, the target
//! and all headers once each, then the body stream until it ends. The clock is asked only when
//! the stream has nothing to give.
//!
//! **Sending** hands a [`Response`] to the host with as few calls as possible: the headers in
//! one list, a small body in one `blocking-write-and-flush` (which takes at most 4096 bytes),
//! a large one (a batch's answer, up to ~480 KB) in writes as large as the host accepts, then
//! one flush.
//!
//! Every answer declares its `content-length`. The answer to a `HEAD` request is the `GET`
//! answer, body included: the host, which knows the request's method, sends the head only
//! (RFC 9110 §9.3.2), and a body shorter than the declared length would be an error to
//! wasi:http hosts (they check what is written against `content-length`).

use heart_api::body::{
    declared_length, drain_deadline, drain_wanted, drains, idle_deadline, pace_deadline,
    refused_unread, too_large, too_slow, unreadable, Expired,
};
use heart_api::{Method, Request, Response};
use heart_wire::limits::MAX_BODY_BYTES;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::clocks::monotonic_clock;
use wasi::io::streams::{InputStream, OutputStream, StreamError};

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// The most one read takes from the host.
const READ_CHUNK: u64 = 64 * 1024;

/// The request's method, target and headers, read from the host once; its body is read by
/// [`read_bounded`].
pub fn read_head(incoming: &IncomingRequest) -> Request {
    Request::new(
        method(incoming.method()),
        &incoming.path_with_query().unwrap_or_default(),
        incoming.headers().entries(),
        Vec::new(),
    )
}

/// The host's method as the service's: the same variants, one to one.
fn method(method: spin_sdk::http::Method) -> Method {
    use spin_sdk::http::Method as Host;
    match method {
        Host::Get => Method::Get,
        Host::Head => Method::Head,
        Host::Post => Method::Post,
        Host::Put => Method::Put,
        Host::Delete => Method::Delete,
        Host::Connect => Method::Connect,
        Host::Options => Method::Options,
        Host::Trace => Method::Trace,
        Host::Patch => Method::Patch,
        Host::Other(other) => Method::Other(other),
    }
}

/// The request with its body read, or the response that refuses it. `arrived` (wasi's
/// monotonic clock) is when the request arrived: the pace rule counts from it.
pub fn read_bounded(
    head: Request,
    incoming: IncomingRequest,
    arrived: u64,
) -> Result<Request, Response> {
    let declared = declared_length(&head);
    let incoming_body = incoming.consume().map_err(|()| unreadable())?;
    let stream = incoming_body.stream().map_err(|()| unreadable())?;
    let received = if refused_unread(declared) {
        0
    } else {
        match read_body(&stream, declared, arrived) {
            Ok(body) => return Ok(head.with_body(body)),
            Err(Refusal::TooLarge { received }) => received,
            Err(Refusal::Other(response)) => return Err(response),
        }
    };
    if drains(&head, declared) {
        discard(&stream, received);
    }
    Err(too_large())
}

/// Why [`read_body`] stopped.
enum Refusal {
    /// The body passed [`MAX_BODY_BYTES`]; `received` bytes of it have been read.
    TooLarge { received: u64 },
    /// Any other answer: too slow (408), unreadable (400).
    Other(Response),
}

/// Reads the body stream, waiting on it and on the idle and pace deadlines together whenever
/// it has nothing to give (the clock is asked only then). It reads on to the stream's end even
/// when the declared length is in, which costs one call more: stopping there is the suspected
/// cause of a connection closed without an answer in an earlier `make soak` (the soak sections
/// of bench/RESULTS.md count them, from `failures.closed_without_answer` in
/// bench/soak/results.json).
fn read_body(
    stream: &InputStream,
    declared: Option<u64>,
    arrived: u64,
) -> Result<Vec<u8>, Refusal> {
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut quiet_since = None;
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                wait(stream, &mut quiet_since, pace_deadline(arrived, body.len()))
                    .map_err(|expired| Refusal::Other(too_slow(expired)))?;
            }
            Ok(chunk) => {
                quiet_since = None;
                let received = body.len() + chunk.len();
                if received > MAX_BODY_BYTES {
                    return Err(Refusal::TooLarge {
                        received: received as u64,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(_)) => return Err(Refusal::Other(unreadable())),
        }
    }
}

/// Reads and drops the rest of a refused body, `received` bytes of which are already read,
/// until it ends, [`heart_wire::limits::DISCARD_MAX_BYTES`] have come in all, the
/// [`drain_deadline`] has passed, or it stalls for [`heart_wire::limits::BODY_IDLE_TIMEOUT`].
fn discard(stream: &InputStream, mut received: u64) {
    let deadline = drain_deadline(monotonic_clock::now());
    let mut quiet_since = None;
    // `read`, not `skip`: jco's wasi:io (1.x) answers `skip` with the bytes instead of their
    // count, which kills its server.
    while let Some(wanted) = drain_wanted(received, READ_CHUNK) {
        match stream.read(wanted) {
            Ok(chunk) if chunk.is_empty() => {
                if wait(stream, &mut quiet_since, deadline).is_err() {
                    return;
                }
            }
            Ok(chunk) => {
                quiet_since = None;
                received += chunk.len() as u64;
            }
            Err(_) => return,
        }
    }
}

/// Waits until the stream has something to give, or the earlier of two deadlines: the idle
/// one ([`idle_deadline`] of `quiet_since`, the first time the stream was found empty
/// since it last gave something; set here when unset) and `deadline`. An error once either has
/// passed.
fn wait(stream: &InputStream, quiet_since: &mut Option<u64>, deadline: u64) -> Result<(), Expired> {
    let now = monotonic_clock::now();
    let idle = idle_deadline(*quiet_since.get_or_insert(now));
    if now >= idle {
        return Err(Expired::Idle);
    }
    if now >= deadline {
        return Err(Expired::Pace);
    }
    let readable = stream.subscribe();
    let timer = monotonic_clock::subscribe_instant(idle.min(deadline));
    wasi::io::poll::poll(&[&readable, &timer]);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------

/// The most `blocking-write-and-flush` accepts in one call (wasi:io 0.2).
const WRITE_CHUNK: usize = 4096;

/// Sends `response` as the answer to the request. Fails only when the host refuses a header
/// (every header the component sets is plain ASCII) or the client has gone; the host then ends
/// the exchange, and there is nobody left to tell.
pub fn send(response: Response, out: ResponseOutparam) {
    let Ok(fields) = Fields::from_list(&response.wire_headers()) else {
        return;
    };
    let outgoing = OutgoingResponse::new(fields);
    // 200 is the default status: one call fewer for most answers.
    let status = response.status();
    if status != 200 && outgoing.set_status_code(status).is_err() {
        return;
    }
    let Ok(body) = outgoing.body() else {
        return;
    };
    out.set(outgoing);
    if let Ok(stream) = body.write() {
        if write_all(&stream, response.body()).is_err() {
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.len() <= WRITE_CHUNK {
        return stream.blocking_write_and_flush(bytes);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = rest
            .len()
            .min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&rest[..n])?;
        rest = &rest[n..];
    }
    stream.blocking_flush()
}
