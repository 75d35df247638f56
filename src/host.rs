//! The component's side of wasi:http 0.2: reading a request from the host within bounds into
//! the service's plain [`Request`], and handing its [`Response`] back. Everything between is
//! `heart_api`'s, which knows no host; the refusals made here (408, 413, 400) are built with
//! its answer builders, so they read like every other problem+json.
//!
//! **Reading** never holds more than [`MAX_BODY_BYTES`] of a body, and does not let a slow
//! client hold the instance for long.
//!
//! **How long a body may take.** A request holds its component instance for as long as the
//! component waits for the body (under `wasmtime serve` three of the pool's 1000 core
//! instances; Spin allows 1000 instances), so a few hundred clients that start a body and then
//! stall would leave nothing for anyone else. Two rules bound the wait, both answered 408:
//!
//! - *idle*: no byte for [`BODY_IDLE_TIMEOUT`] (2 s). A stalled body frees its instance 2 s
//!   after its last byte.
//! - *pace*: after a start of [`BODY_START`] (2 s), the body must average at least
//!   [`BODY_MIN_RATE`] (32 KiB/s): `t` after the request arrived,
//!   `BODY_MIN_RATE × (t − BODY_START)` bytes of it must be in. A client that trickles a byte a
//!   second dodges the idle rule but not this one, and is cut off about 2 s after it started.
//!   32 KiB/s is about 260 kbit/s, slower than a 3G uplink (384 kbit/s), so an honest client is
//!   not cut off: the largest body (256 KiB) may take [`BODY_MAX_TIME`] (2 s + 8 s = 10 s, the
//!   old whole-body deadline), a single patient's body (`params.body_bytes` in
//!   bench/results.json) a little over 2 s.
//!
//! **Refusing a large body (413).** A declared `Content-Length` over the limit is refused
//! before reading, a streamed body as soon as it passes the limit. Before the 413 is sent, the
//! rest of the body is read and thrown away — at most [`DISCARD_MAX_BYTES`] (32 MiB, counted
//! from the body's first byte), for at most [`DISCARD_MAX_TIME`] (5 s) after the refusal, the idle
//! rule applying — because a client that writes its whole body before reading (no `Expect:
//! 100-continue`: Python's urllib, most scripts) otherwise gets a broken pipe instead of the
//! answer: the host closes the connection with the body unread, and the reset reaches the
//! client while it is still writing. Nothing is read when the client sent `Expect:
//! 100-continue` (it waits for the answer before sending the body) or declared more than
//! 32 MiB; past the bound the 413 is sent anyway and the connection closes.
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

use heart_api::{problem, Method, Request, Response, Status};
use heart_wire::limits::{
    BODY_IDLE_TIMEOUT, BODY_MAX_TIME, BODY_MIN_RATE, BODY_START, DISCARD_MAX_BYTES,
    DISCARD_MAX_TIME, MAX_BATCH, MAX_BODY_BYTES,
};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::clocks::monotonic_clock;
use wasi::io::streams::{InputStream, OutputStream, StreamError};

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

const NANOS_PER_SEC: u64 = 1_000_000_000;
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
    let declared = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let incoming_body = incoming.consume().map_err(|()| unreadable())?;
    let stream = incoming_body.stream().map_err(|()| unreadable())?;
    let received = match declared {
        Some(n) if n > MAX_BODY_BYTES as u64 => 0,
        _ => match read_body(&stream, declared, arrived) {
            Ok(body) => return Ok(head.with_body(body)),
            Err(Refusal::TooLarge { received }) => received,
            Err(Refusal::Other(response)) => return Err(response),
        },
    };
    let expects_continue = head
        .header("expect")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if !expects_continue && declared.is_none_or(|n| n <= DISCARD_MAX_BYTES) {
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
                // The pace rule: the body's bytes so far buy time at BODY_MIN_RATE after BODY_START.
                let paced = arrived
                    .saturating_add(BODY_START.as_nanos() as u64)
                    .saturating_add(body.len() as u64 * NANOS_PER_SEC / BODY_MIN_RATE);
                wait(stream, &mut quiet_since, paced)
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
/// until it ends, [`DISCARD_MAX_BYTES`] have come in all, [`DISCARD_MAX_TIME`] has passed, or it
/// stalls for [`BODY_IDLE_TIMEOUT`].
fn discard(stream: &InputStream, mut received: u64) {
    let deadline = monotonic_clock::now().saturating_add(DISCARD_MAX_TIME.as_nanos() as u64);
    let mut quiet_since = None;
    // One byte past the bound, so that a body of exactly DISCARD_MAX_BYTES is seen to end.
    // `read`, not `skip`: jco's wasi:io (1.x) answers `skip` with the bytes instead of their
    // count, which kills its server.
    while received <= DISCARD_MAX_BYTES {
        let wanted = (DISCARD_MAX_BYTES + 1 - received).min(READ_CHUNK);
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

/// Which deadline passed.
enum Expired {
    /// Nothing arrived for [`BODY_IDLE_TIMEOUT`].
    Idle,
    /// The caller's own deadline.
    Deadline,
}

/// Waits until the stream has something to give, or the earlier of two deadlines: the idle
/// one ([`BODY_IDLE_TIMEOUT`] after `quiet_since`, the first time the stream was found empty
/// since it last gave something; set here when unset) and `deadline`. An error once either has
/// passed.
fn wait(stream: &InputStream, quiet_since: &mut Option<u64>, deadline: u64) -> Result<(), Expired> {
    let now = monotonic_clock::now();
    let idle = quiet_since
        .get_or_insert(now)
        .saturating_add(BODY_IDLE_TIMEOUT.as_nanos() as u64);
    if now >= idle {
        return Err(Expired::Idle);
    }
    if now >= deadline {
        return Err(Expired::Deadline);
    }
    let readable = stream.subscribe();
    let timer = monotonic_clock::subscribe_instant(idle.min(deadline));
    wasi::io::poll::poll(&[&readable, &timer]);
    Ok(())
}

/// The 408 for a body that stalled ([`Expired::Idle`]) or fell behind the pace.
fn too_slow(expired: Expired) -> Response {
    let detail = match expired {
        Expired::Idle => format!(
            "No byte of the request body arrived for {} s; a body may pause at most that long.",
            BODY_IDLE_TIMEOUT.as_secs()
        ),
        Expired::Deadline => format!(
            "The request body arrived too slowly: after its first {} s it must average at least \
             {BODY_MIN_RATE} bytes/s ({MAX_BODY_BYTES} bytes within {} s).",
            BODY_START.as_secs(),
            BODY_MAX_TIME.as_secs()
        ),
    };
    problem(Status::RequestTimeout, &detail, &[])
}

fn unreadable() -> Response {
    problem(
        Status::BadRequest,
        "The request body could not be read to its end.",
        &[],
    )
}

fn too_large() -> Response {
    problem(
        Status::PayloadTooLarge,
        &format!("The request body exceeds {MAX_BODY_BYTES} bytes; send at most {MAX_BATCH} patients per request, without padding."),
        &[],
    )
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
    let headers: Vec<(String, Vec<u8>)> = response
        .headers()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .chain([(
            "content-length".to_string(),
            response.body().len().to_string().into_bytes(),
        )])
        .collect();
    let Ok(fields) = Fields::from_list(&headers) else {
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
