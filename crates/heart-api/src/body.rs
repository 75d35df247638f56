//! The rules every edge applies while it reads a request body, apart from how it reads: the
//! edge owns the stream and the clock (wasi:io pollables in the 0.2 component, async streams
//! and timers in the 0.3 one), this module the arithmetic and the answers, so both builds
//! refuse the same bodies at the same moments with the same words.
//!
//! **How long a body may take.** A request holds what serves it (a component instance, or one
//! of an instance's concurrent slots) for as long as the body takes, so a few hundred clients
//! that start a body and then stall would leave nothing for anyone else. Two rules bound the
//! wait, both answered 408 ([`too_slow`]):
//!
//! - *idle*: no byte for [`BODY_IDLE_TIMEOUT`] (2 s) ([`idle_deadline`]);
//! - *pace*: after a start of [`BODY_START`] (2 s), the body must average at least
//!   [`BODY_MIN_RATE`] (32 KiB/s): `t` after the request arrived,
//!   `BODY_MIN_RATE × (t − BODY_START)` bytes of it must be in ([`pace_deadline`]). A client
//!   that trickles a byte a second dodges the idle rule but not this one. 32 KiB/s is about
//!   260 kbit/s, slower than a 3G uplink, so an honest client is not cut off: the largest body
//!   (256 KiB) may take [`BODY_MAX_TIME`] (2 s + 8 s = 10 s).
//!
//! **Refusing a large body (413, [`too_large`]).** A declared `Content-Length` over the limit
//! is refused before reading ([`refused_unread`]), a streamed body as soon as it passes the
//! limit. Before the 413 is sent, the rest of the body is read and thrown away ([`drains`]) —
//! at most [`DISCARD_MAX_BYTES`] counted from the body's first byte, for at most
//! [`DISCARD_MAX_TIME`] after the refusal, the idle rule applying — because a client that
//! writes its whole body before reading (no `Expect: 100-continue`: Python's urllib, most
//! scripts) otherwise gets a broken pipe instead of the answer. Nothing is read when the
//! client sent `Expect: 100-continue` (it waits for the answer before sending the body) or
//! declared more than the bound.
//!
//! Times are nanoseconds of the edge's monotonic clock.

use heart_wire::limits::{
    BODY_IDLE_TIMEOUT, BODY_MAX_TIME, BODY_MIN_RATE, BODY_START, DISCARD_MAX_BYTES,
    DISCARD_MAX_TIME, MAX_BATCH, MAX_BODY_BYTES,
};

use crate::answer::{problem, Status};
use crate::http::{Request, Response};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Which time rule a body broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Nothing arrived for [`BODY_IDLE_TIMEOUT`].
    Idle,
    /// The body fell behind [`BODY_MIN_RATE`] (or, while draining, the drain's own deadline).
    Pace,
}

/// The body's length as the request declares it (`Content-Length`), if it does.
pub fn declared_length(head: &Request) -> Option<u64> {
    head.header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// A body declared larger than [`MAX_BODY_BYTES`] is refused without reading any of it.
pub fn refused_unread(declared: Option<u64>) -> bool {
    declared.is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

/// Whether the rest of a refused body is read and dropped before the 413 (see the module
/// doc): not when the client waits for the answer (`Expect: 100-continue`) nor when it
/// declared more than [`DISCARD_MAX_BYTES`].
pub fn drains(head: &Request, declared: Option<u64>) -> bool {
    let expects_continue = head
        .header("expect")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    !expects_continue && declared.is_none_or(|n| n <= DISCARD_MAX_BYTES)
}

/// When the drain of a body refused at `refused` must stop ([`DISCARD_MAX_TIME`] later).
pub fn drain_deadline(refused: u64) -> u64 {
    refused.saturating_add(DISCARD_MAX_TIME.as_nanos() as u64)
}

/// How many bytes the drain may still ask for in one read of at most `chunk`, when `received`
/// bytes of the body have come in; `None` once past [`DISCARD_MAX_BYTES`]. It reads one byte
/// past the bound, so that a body of exactly [`DISCARD_MAX_BYTES`] is seen to end.
pub fn drain_wanted(received: u64, chunk: u64) -> Option<u64> {
    (received <= DISCARD_MAX_BYTES).then(|| (DISCARD_MAX_BYTES + 1 - received).min(chunk))
}

/// When a body of which `received` bytes are in falls behind the pace rule, for a request
/// that arrived at `arrived`: its bytes buy time at [`BODY_MIN_RATE`] after [`BODY_START`].
pub fn pace_deadline(arrived: u64, received: usize) -> u64 {
    arrived
        .saturating_add(BODY_START.as_nanos() as u64)
        .saturating_add(received as u64 * NANOS_PER_SEC / BODY_MIN_RATE)
}

/// When a body that has given nothing since `quiet_since` breaks the idle rule.
pub fn idle_deadline(quiet_since: u64) -> u64 {
    quiet_since.saturating_add(BODY_IDLE_TIMEOUT.as_nanos() as u64)
}

/// The 408 for a body that stalled ([`Expired::Idle`]) or fell behind the pace.
pub fn too_slow(expired: Expired) -> Response {
    let detail = match expired {
        Expired::Idle => format!(
            "No byte of the request body arrived for {} s; a body may pause at most that long.",
            BODY_IDLE_TIMEOUT.as_secs()
        ),
        Expired::Pace => format!(
            "The request body arrived too slowly: after its first {} s it must average at least \
             {BODY_MIN_RATE} bytes/s ({MAX_BODY_BYTES} bytes within {} s).",
            BODY_START.as_secs(),
            BODY_MAX_TIME.as_secs()
        ),
    };
    problem(Status::RequestTimeout, &detail, &[])
}

/// The 400 for a body the host could not hand over to its end (the client went away, or sent
/// less than it declared).
pub fn unreadable() -> Response {
    problem(
        Status::BadRequest,
        "The request body could not be read to its end.",
        &[],
    )
}

/// The 413 for a body over [`MAX_BODY_BYTES`].
pub fn too_large() -> Response {
    problem(
        Status::PayloadTooLarge,
        &format!("The request body exceeds {MAX_BODY_BYTES} bytes; send at most {MAX_BATCH} patients per request, without padding."),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn head(headers: &[(&str, &str)]) -> Request {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        Request::new(Method::Post, "/predict", headers, Vec::new())
    }

    #[test]
    fn the_pace_rule_gives_the_largest_body_its_whole_time() {
        let arrived = 7 * NANOS_PER_SEC;
        assert_eq!(
            pace_deadline(arrived, 0),
            arrived + BODY_START.as_nanos() as u64
        );
        assert_eq!(
            pace_deadline(arrived, MAX_BODY_BYTES),
            arrived + BODY_MAX_TIME.as_nanos() as u64
        );
        assert_eq!(
            idle_deadline(arrived),
            arrived + BODY_IDLE_TIMEOUT.as_nanos() as u64
        );
    }

    #[test]
    fn a_declared_length_decides_before_reading() {
        let max = MAX_BODY_BYTES as u64;
        assert_eq!(
            declared_length(&head(&[("Content-Length", " 12 ")])),
            Some(12)
        );
        assert_eq!(declared_length(&head(&[("content-length", "x")])), None);
        assert!(!refused_unread(None));
        assert!(!refused_unread(Some(max)));
        assert!(refused_unread(Some(max + 1)));
    }

    #[test]
    fn only_a_client_that_writes_before_reading_is_drained() {
        assert!(drains(&head(&[]), None));
        assert!(drains(&head(&[]), Some(DISCARD_MAX_BYTES)));
        assert!(!drains(&head(&[]), Some(DISCARD_MAX_BYTES + 1)));
        assert!(!drains(&head(&[("Expect", "100-Continue")]), Some(1)));
    }

    #[test]
    fn the_drain_reads_one_byte_past_its_bound_and_no_further() {
        assert_eq!(drain_wanted(0, 64), Some(64));
        assert_eq!(drain_wanted(DISCARD_MAX_BYTES - 1, 64), Some(2));
        assert_eq!(drain_wanted(DISCARD_MAX_BYTES, 64), Some(1));
        assert_eq!(drain_wanted(DISCARD_MAX_BYTES + 1, 64), None);
        assert_eq!(drain_deadline(5), 5 + DISCARD_MAX_TIME.as_nanos() as u64);
    }

    #[test]
    fn refusals_are_problems_with_their_status() {
        assert_eq!(too_slow(Expired::Idle).status(), 408);
        assert_eq!(too_slow(Expired::Pace).status(), 408);
        assert_ne!(
            too_slow(Expired::Idle).body(),
            too_slow(Expired::Pace).body()
        );
        assert_eq!(too_large().status(), 413);
        assert_eq!(unreadable().status(), 400);
        assert_eq!(
            too_large().header("content-type"),
            Some("application/problem+json")
        );
    }
}
