//! Reading a request from wasi:http 0.3 into the service's plain [`Request`], within the body
//! rules of [`heart_api::body`] (the same limits, deadlines and refusals as the 0.2 edge).
//!
//! A read of the body stream is a future; while it is pending, it races a timer set to the
//! nearer of the idle and pace deadlines. The clock is asked only when a read does not
//! complete at once, as the 0.2 edge asks it only when the stream is empty, so a body that
//! is already in (nearly every one) costs no timer.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use heart_api::body::{
    declared_length, drain_deadline, drain_wanted, drains, idle_deadline, pace_deadline,
    refused_unread, too_large, too_slow, unreadable, Expired,
};
use heart_api::{Method, Request as Head, Response};
use heart_wire::limits::MAX_BODY_BYTES;
use spin_sdk::wasip3::clocks::monotonic_clock;
use spin_sdk::wasip3::http::types::{Method as HostMethod, Request};
use spin_sdk::wasip3::wit_bindgen::{StreamReader, StreamResult};
use spin_sdk::wasip3::wit_future;

/// The most one read asks of the host.
const READ_CHUNK: usize = 64 * 1024;

/// The request's method, target and headers, read from the host once; its body is read by
/// [`bounded`].
pub fn head(request: &Request) -> Head {
    Head::new(
        method(request.get_method()),
        &request.get_path_with_query().unwrap_or_default(),
        request.get_headers().copy_all(),
        Vec::new(),
    )
}

/// The host's method as the service's: the same variants, one to one.
fn method(method: HostMethod) -> Method {
    match method {
        HostMethod::Get => Method::Get,
        HostMethod::Head => Method::Head,
        HostMethod::Post => Method::Post,
        HostMethod::Put => Method::Put,
        HostMethod::Delete => Method::Delete,
        HostMethod::Connect => Method::Connect,
        HostMethod::Options => Method::Options,
        HostMethod::Trace => Method::Trace,
        HostMethod::Patch => Method::Patch,
        HostMethod::Other(other) => Method::Other(other),
    }
}

/// The request with its body read, or the response that refuses it. `arrived` (the monotonic
/// clock) is when the request arrived: the pace rule counts from it.
pub async fn bounded(head: Head, request: Request, arrived: u64) -> Result<Head, Response> {
    let declared = declared_length(&head);
    // The request's own result future: left at its default (success), as this edge has no
    // error to report on it.
    let (_result, result) = wit_future::new(|| Ok(()));
    let (mut stream, trailers) = Request::consume_body(request, result);
    let received = if refused_unread(declared) {
        0
    } else {
        match read_body(&mut stream, declared, arrived).await {
            // All the declared bytes are in: the body is whole by its framing.
            Ok(body) if declared == Some(body.len() as u64) => return Ok(head.with_body(body)),
            // The stream has ended; the trailers' future says whether all of it arrived.
            Ok(body) => {
                return match trailers.await {
                    Ok(_) => Ok(head.with_body(body)),
                    Err(_) => Err(unreadable()),
                }
            }
            Err(Refusal::TooLarge { received }) => received,
            Err(Refusal::Other(response)) => return Err(response),
        }
    };
    if drains(&head, declared) {
        discard(&mut stream, received).await;
    }
    Err(too_large())
}

/// Why [`read_body`] stopped.
enum Refusal {
    /// The body passed [`MAX_BODY_BYTES`]; `received` bytes of it have been read.
    TooLarge { received: u64 },
    /// Any other answer: too slow (408).
    Other(Response),
}

/// Reads the body stream to its end, or to its declared length, at most [`MAX_BODY_BYTES`]
/// of it, within the idle and pace deadlines.
async fn read_body(
    stream: &mut StreamReader<u8>,
    declared: Option<u64>,
    arrived: u64,
) -> Result<Vec<u8>, Refusal> {
    // Room for the declared body (a read fills only spare capacity), or for one byte when
    // none is declared: a request without a body (every GET) then costs no larger buffer.
    let mut body = Vec::with_capacity(declared.map_or(1, |n| n as usize).max(1));
    let mut quiet_since = None;
    loop {
        // A body with all its declared bytes in is whole: the host takes no byte past a
        // `content-length`. Waiting for the stream's end and its trailers would add two more
        // round trips to the host per request (about 12 µs of Spin 4's CPU per POST /predict:
        // README.md, "Where the 0.3 build's time goes").
        if declared == Some(body.len() as u64) {
            return Ok(body);
        }
        if body.len() == body.capacity() {
            body.reserve_exact(READ_CHUNK);
        }
        let pace = pace_deadline(arrived, body.len());
        match next(stream, body, &mut quiet_since, pace).await {
            Read::More(more) if more.len() > MAX_BODY_BYTES => {
                return Err(Refusal::TooLarge {
                    received: more.len() as u64,
                })
            }
            Read::More(more) => body = more,
            Read::End(done) => return Ok(done),
            Read::Expired(expired) => return Err(Refusal::Other(too_slow(expired))),
        }
    }
}

/// Reads and drops the rest of a refused body, `received` bytes of which are already read,
/// until it ends, [`heart_wire::limits::DISCARD_MAX_BYTES`] have come in all, the
/// [`drain_deadline`] has passed, or it stalls for the idle time.
async fn discard(stream: &mut StreamReader<u8>, mut received: u64) {
    let deadline = drain_deadline(monotonic_clock::now());
    let mut quiet_since = None;
    while let Some(wanted) = drain_wanted(received, READ_CHUNK as u64) {
        let buf = Vec::with_capacity(wanted as usize);
        match next(stream, buf, &mut quiet_since, deadline).await {
            Read::More(chunk) => received += chunk.len() as u64,
            Read::End(_) | Read::Expired(_) => return,
        }
    }
}

/// What one read of the body gave.
enum Read {
    /// More bytes, appended to the buffer.
    More(Vec<u8>),
    /// The stream has ended (the buffer as it was, with whatever came last).
    End(Vec<u8>),
    /// Nothing came before a deadline.
    Expired(Expired),
}

/// One read into `buf`'s spare capacity. When it does not complete at once, it races the
/// earlier of the idle deadline ([`idle_deadline`] of `quiet_since`, the first moment the
/// stream was found with nothing to give since it last gave something; set here when unset)
/// and `deadline`; a read that loses the race is cancelled, and its request refused.
async fn next(
    stream: &mut StreamReader<u8>,
    buf: Vec<u8>,
    quiet_since: &mut Option<u64>,
    deadline: u64,
) -> Read {
    let mut read = pin!(stream.read(buf));
    let (result, buf) = match poll_once(read.as_mut()).await {
        Some(done) => done,
        None => {
            let now = monotonic_clock::now();
            let idle = idle_deadline(*quiet_since.get_or_insert(now));
            let nearest = idle.min(deadline);
            if now >= nearest {
                return Read::Expired(if now >= idle {
                    Expired::Idle
                } else {
                    Expired::Pace
                });
            }
            let mut timer = pin!(monotonic_clock::wait_until(nearest));
            let raced = poll_fn(|cx| match read.as_mut().poll(cx) {
                Poll::Ready(done) => Poll::Ready(Some(done)),
                Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
            })
            .await;
            match raced {
                Some(done) => done,
                None if idle <= deadline => return Read::Expired(Expired::Idle),
                None => return Read::Expired(Expired::Pace),
            }
        }
    };
    match result {
        StreamResult::Complete(_) => {
            *quiet_since = None;
            Read::More(buf)
        }
        // Dropped: the client's side has ended the body. (Cancelled cannot happen: a read is
        // cancelled only by dropping it, above.)
        StreamResult::Dropped | StreamResult::Cancelled => Read::End(buf),
    }
}

/// Polls `future` once: its output if it is ready at once, `None` (and the future left
/// running) if not.
async fn poll_once<F: Future>(mut future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        })
    })
    .await
}
