//! The wire contract's limits: how large, how slow and how many a request may be. The
//! component enforces them, the OpenAPI document states them, the tests probe them.

use std::time::Duration;

/// Largest accepted request body. A batch of [`MAX_BATCH`] patients needs about 125 bytes a
/// patient written compactly and up to about 250 pretty-printed, so 64 KiB could not carry
/// it; 256 KiB does, and still bounds what one request can make a server hold.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a server waits for the next byte of a request body: a body that stalls is refused
/// (408) this long after its last byte, and frees what it held.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The slowest a request body may arrive on average, in bytes per second, after a start of
/// [`BODY_START`]: by `t` seconds after the request arrived, at least
/// `BODY_MIN_RATE × (t − BODY_START)` bytes of its body must be in. 32 KiB/s is about
/// 260 kbit/s, slower than a 3G uplink (384 kbit/s), so an honest client is not cut off; a
/// client that trickles a byte now and then to dodge the idle timeout is.
pub const BODY_MIN_RATE: u64 = 32 * 1024;

/// The start a body gets before [`BODY_MIN_RATE`] applies (one or two round trips of a slow
/// link, and TCP's slow start).
pub const BODY_START: Duration = Duration::from_secs(2);

/// The longest any accepted body can take: the start, then [`MAX_BODY_BYTES`] at
/// [`BODY_MIN_RATE`] (2 s + 8 s = 10 s). Smaller bodies get proportionally less.
pub const BODY_MAX_TIME: Duration =
    Duration::from_secs(BODY_START.as_secs() + MAX_BODY_BYTES as u64 / BODY_MIN_RATE);

/// How much of a refused (413) body a server reads and discards before answering, so that a
/// client that writes its whole body before reading (no `Expect: 100-continue`, like Python's
/// urllib) sees the 413 instead of a broken pipe: 32 MiB, counted from the body's first byte.
pub const DISCARD_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// How long a server spends discarding a refused body, from the refusal (the idle timeout
/// applies too). 32 MiB in 5 s needs about 54 Mbit/s.
pub const DISCARD_MAX_TIME: Duration = Duration::from_secs(5);

/// Most patients in one batch request.
pub const MAX_BATCH: usize = 1000;

/// Most field errors reported for one request; a batch of 1000 empty objects would otherwise
/// produce 10 000 of them.
pub const MAX_ERRORS: usize = 100;
