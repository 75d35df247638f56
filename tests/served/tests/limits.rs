//! The limits that keep one request from holding the component: body size enforced while the
//! body streams in, bodies that stall, trickle, never end or end early, refused bodies read to
//! their end so that every client sees its 413, JSON nesting depth, numbers outside f64, and
//! the batch size. Checked on the release `.wasm` served by `wasmtime serve`, `spin up` and
//! containerd-shim-spin (raw sockets, so a body can stay open or stop half-way) and, for the
//! parser limits, natively through `respond()` as well.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use heart_api::{Method, Request};
use heart_served::trials::{self, native, Check};
use heart_served::{chunk, read_response, Resp, Runtime, Server, LAST_CHUNK};
use heart_wire::limits::{
    BODY_IDLE_TIMEOUT, BODY_MIN_RATE, BODY_START, DISCARD_MAX_BYTES, MAX_BATCH, MAX_BODY_BYTES,
};
use serde_json::{json, Value};

/// The example patient, a compact `/predict` body.
fn patient() -> String {
    heart_wire::example::patient_json()
}

/// Long enough that only a hang reaches it: every case here is answered within seconds.
const HANG: Duration = Duration::from_secs(60);

fn connect(s: &Server) -> TcpStream {
    let stream = TcpStream::connect(&s.addr).expect("connect");
    stream.set_read_timeout(Some(HANG)).unwrap();
    stream
}

fn head(content: &str, framing: &str) -> Vec<u8> {
    format!("POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: {content}\r\n{framing}\r\n\r\n")
        .into_bytes()
}

/// Reads the answer ([`read_response`]). A read timeout means the server hung: the test
/// fails. The connection is read no further than the answer, so a reset after it (the server
/// closed with our input unread) does not matter.
fn read_answer(stream: TcpStream) -> Resp {
    read_response(&mut BufReader::new(stream), false).unwrap_or_else(|e| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            panic!("no whole answer within {HANG:?} (the server hangs): {e}")
        }
        panic!("connection failed before the whole answer: {e}")
    })
}

/// Sends `bytes` (a head and whatever part of a body) and reads the answer, leaving the
/// connection open for writing unless `finish` half-closes it.
fn exchange(s: &Server, bytes: &[u8], finish: bool) -> Resp {
    let mut stream = connect(s);
    // The server may refuse and close before it has read everything: keep reading then.
    let _ = stream.write_all(bytes);
    if finish {
        let _ = stream.shutdown(Shutdown::Write);
    }
    read_answer(stream)
}

fn sized(body: &[u8]) -> Vec<u8> {
    let mut bytes = head(
        "application/json",
        &format!("Content-Length: {}", body.len()),
    );
    bytes.extend_from_slice(body);
    bytes
}

fn chunked(chunks: &[&[u8]], terminate: bool) -> Vec<u8> {
    let mut bytes = head("application/json", "Transfer-Encoding: chunked");
    for c in chunks {
        bytes.extend(chunk(c));
    }
    if terminate {
        bytes.extend_from_slice(LAST_CHUNK);
    }
    bytes
}

/// A valid single-patient body padded with spaces (insignificant JSON whitespace) to `len`.
fn padded_patient(len: usize) -> Vec<u8> {
    let mut body = patient().into_bytes();
    body.resize(len, b' ');
    body
}

/// Natively, the whole request path after body reading.
fn respond(body: &[u8]) -> (u16, Value) {
    let request = Request::new(
        Method::Post,
        "/predict",
        vec![("content-type".into(), b"application/json".to_vec())],
        body.to_vec(),
    );
    let response = heart_api::respond(request);
    let status = response.status();
    (
        status,
        serde_json::from_slice(response.body()).expect("a JSON body"),
    )
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn patient_with_age(raw_number: &str) -> String {
    // `age` is the first member (feature order): keep the others as they are.
    let patient = patient();
    let (_age, others) = patient.split_once(',').expect("thirteen members");
    format!("{{\"age\":{raw_number},{others}")
}

// ---------------------------------------------------------------------------------------
// Native: parser limits through respond()
// ---------------------------------------------------------------------------------------

/// The request reader allows 127 levels of nesting (`heart_wire::json::MAX_DEPTH`, serde_json's
/// limit): deeper bodies are a 400, not a stack overflow, however deep they go within the body
/// limit.
fn nesting_depth_is_bounded_natively() {
    assert_eq!(respond(nested(127).as_bytes()).0, 422, "127 levels parse");
    let (status, problem) = respond(nested(128).as_bytes());
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{problem}"
    );
    let deepest = "[".repeat(MAX_BODY_BYTES);
    assert_eq!(respond(deepest.as_bytes()).0, 400);
    let inside_a_field = patient_with_age(&nested(100_000));
    assert_eq!(respond(inside_a_field.as_bytes()).0, 400);
}

/// Numbers outside f64 are a syntax error (400); finite numbers outside a feature's range are
/// a validation error (422).
fn numbers_overflowing_f64_are_refused_natively() {
    for raw in [
        "1e400",
        "-1e400",
        "1.8e308",
        &"9".repeat(400),
        &format!("-{}", "9".repeat(400)),
    ] {
        let (status, problem) = respond(patient_with_age(raw).as_bytes());
        assert_eq!(status, 400, "{raw}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("number out of range"),
            "{raw}: {problem}"
        );
    }
    for raw in ["NaN", "Infinity", "-Infinity", "nan"] {
        assert_eq!(respond(patient_with_age(raw).as_bytes()).0, 400, "{raw}");
    }
    for raw in [
        "1.7e308",
        &"9".repeat(300),
        "1e-400",
        "18446744073709551616",
    ] {
        let (status, problem) = respond(patient_with_age(raw).as_bytes());
        assert_eq!(status, 422, "{raw}: finite, but not an age: {problem}");
        assert_eq!(problem["errors"][0]["field"], "/age", "{raw}");
    }
    // 1e-400 underflows to 0.0 (a finite number), so it is only out of range.
    assert_eq!(
        respond(patient_with_age("63.0000000000000000001").as_bytes()).0,
        200
    );
}

/// The largest batch, pretty-printed, fits under the body limit; one patient more is refused
/// by validation (422), not by size.
fn the_largest_batch_fits_under_the_body_limit() {
    let patient: Value = serde_json::from_str(&patient()).unwrap();
    let full = serde_json::to_vec_pretty(&json!({ "instances": vec![patient.clone(); MAX_BATCH] }))
        .unwrap();
    assert!(
        full.len() < MAX_BODY_BYTES,
        "a pretty-printed batch of {MAX_BATCH} is {} bytes",
        full.len()
    );
    let (status, answer) = respond(&full);
    assert_eq!(status, 200);
    assert_eq!(answer["predictions"].as_array().unwrap().len(), MAX_BATCH);
    let over = serde_json::to_vec(&json!({ "instances": vec![patient; MAX_BATCH + 1] })).unwrap();
    let (status, problem) = respond(&over);
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "/instances");
}

// ---------------------------------------------------------------------------------------
// Served: body reading in the real component
// ---------------------------------------------------------------------------------------

/// The served checks on `wasmtime serve`, `spin up` and SpinKube's node runtime, with the
/// wasi:http 0.3 build too where Spin 4 and the v0.25 shim run (what a pod does with a slow or
/// oversized body), then the native parser limits.
fn main() -> std::process::ExitCode {
    let native = vec![
        native(
            "nesting_depth_is_bounded_natively",
            nesting_depth_is_bounded_natively,
        ),
        native(
            "numbers_overflowing_f64_are_refused_natively",
            numbers_overflowing_f64_are_refused_natively,
        ),
        native(
            "the_largest_batch_fits_under_the_body_limit",
            the_largest_batch_fits_under_the_body_limit,
        ),
    ];
    trials::run(
        &[
            Runtime::Wasmtime,
            Runtime::Spin,
            Runtime::SpinP3,
            Runtime::Shim,
            Runtime::ShimP3,
        ],
        CHECKS,
        native,
    )
}

const CHECKS: &[(&str, Check)] = &[
    (
        "endless_chunked_body_is_refused_while_it_streams",
        endless_chunked_body_is_refused_while_it_streams,
    ),
    (
        "a_refused_body_that_stalls_is_answered_after_the_idle_timeout",
        a_refused_body_that_stalls_is_answered_after_the_idle_timeout,
    ),
    (
        "declared_length_over_the_limit_is_refused_before_reading",
        declared_length_over_the_limit_is_refused_before_reading,
    ),
    (
        "the_limit_is_exact_for_both_framings",
        the_limit_is_exact_for_both_framings,
    ),
    (
        "truncated_bodies_end_in_a_400",
        truncated_bodies_end_in_a_400,
    ),
    (
        "a_slow_body_that_ends_is_answered",
        a_slow_body_that_ends_is_answered,
    ),
    ("a_stalled_body_times_out", a_stalled_body_times_out),
    ("a_trickling_body_is_cut_off", a_trickling_body_is_cut_off),
    (
        "parser_limits_hold_in_the_component",
        parser_limits_hold_in_the_component,
    ),
    ("every_client_sees_its_413", every_client_sees_its_413),
];

/// How many times each body of [`every_client_sees_its_413`] is sent: `HEART_413_TRIES`, or 20.
fn tries_413() -> usize {
    std::env::var("HEART_413_TRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

/// A client like Python's urllib: it sends the head and then its whole body, without
/// `Expect: 100-continue`, and reads the answer only once the body is written. An error while
/// writing is what such a client reports (a broken pipe), so it fails the try.
fn send_whole_body_then_read(addr: &str, framing: &str, body: &[u8]) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(HANG))?;
    stream.write_all(
        format!(
            "POST /predict HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: identity\r\nContent-Type: application/json\r\n\
             User-Agent: Python-urllib/3.11\r\nConnection: close\r\n{framing}\r\n\r\n"
        )
        .as_bytes(),
    )?;
    stream.write_all(body)?;
    read_response(&mut BufReader::new(stream), false)
}

/// Every client sees its 413, not a broken pipe: bodies of 1 MiB and 16 MiB (over the limit,
/// under the discard bound), declared and chunked, each sent `HEART_413_TRIES` times (20) by a
/// client that writes the whole body before reading. The component reads a refused body to
/// its end before answering, so no write fails and every answer is the 413 with the limit.
fn every_client_sees_its_413(s: &Server) {
    let tries = tries_413();
    let mut failed = Vec::new();
    for size in [1usize << 20, 16 << 20] {
        let body = vec![b' '; size];
        let mut chunked_body = Vec::with_capacity(size + 1024);
        for piece in body.chunks(64 * 1024) {
            chunked_body.extend(chunk(piece));
        }
        chunked_body.extend_from_slice(LAST_CHUNK);
        for (framing, bytes) in [
            (format!("Content-Length: {size}"), &body),
            ("Transfer-Encoding: chunked".to_string(), &chunked_body),
        ] {
            let (mut saw_413, mut broken, mut other) = (0, 0, 0);
            for _ in 0..tries {
                match send_whole_body_then_read(&s.addr, &framing, bytes) {
                    Ok(raw)
                        if raw.status == 413
                            && detail(&raw).contains(&MAX_BODY_BYTES.to_string()) =>
                    {
                        saw_413 += 1
                    }
                    Ok(raw) => {
                        other += 1;
                        failed.push(format!(
                            "{size} bytes, {framing}: {} {:?}",
                            raw.status, raw.headers
                        ));
                    }
                    Err(e) => {
                        broken += 1;
                        failed.push(format!("{size} bytes, {framing}: {e}"));
                    }
                }
            }
            eprintln!(
                "{:?}: {size} bytes, {framing}, no Expect: {saw_413}/{tries} saw the 413, {broken} failed to send or read, {other} other answers",
                s.runtime
            );
        }
    }
    assert!(failed.is_empty(), "{:?}: {failed:#?}", s.runtime);
}

fn detail(raw: &Resp) -> String {
    raw.problem()["detail"].as_str().unwrap().to_string()
}

/// A client that sends part of its body and then nothing, keeping the connection open: the
/// component answers 408, saying so, once nothing has come for BODY_IDLE_TIMEOUT (2 s), and not
/// before. (How soon after is for a benchmark: a test asserts no timing upper bound, so a loaded
/// machine cannot fail it; a hang still fails at HANG.)
fn a_stalled_body_times_out(s: &Server) {
    let mut stream = connect(s);
    // 16 KiB before the stall buy the body 0.5 s more under the pace rule (BODY_MIN_RATE is
    // 32 KiB/s), so the idle rule is the one that fires, however late the component first
    // finds the stream empty: with only 20 bytes the two deadlines were 0.6 ms apart, and a
    // slow host (an unoptimised shim) saw the pace refusal instead.
    let mut bytes = head("application/json", "Content-Length: 32768");
    bytes.extend_from_slice(&patient().as_bytes()[..20]);
    bytes.extend_from_slice(&[b' '; 16 * 1024]);
    stream.write_all(&bytes).unwrap();
    let sent = Instant::now();
    let raw = read_answer(stream);
    let waited = sent.elapsed();
    assert_eq!(raw.status, 408, "{raw:?}");
    let detail = detail(&raw);
    assert!(
        detail.contains(&format!("for {} s", BODY_IDLE_TIMEOUT.as_secs())),
        "{detail}"
    );
    eprintln!(
        "{:?}: stalled body answered 408 after {waited:?}",
        s.runtime
    );
    assert!(
        waited >= BODY_IDLE_TIMEOUT - Duration::from_millis(100),
        "{waited:?}"
    );
}

/// A client that sends one byte every 0.5 s never pauses for the idle timeout, but falls behind
/// the minimum pace (BODY_MIN_RATE after BODY_START): it is cut off with a 408 that says so,
/// instead of holding its instance for as long as its body lasts (about 2,000 s; a hang fails
/// at HANG).
fn a_trickling_body_is_cut_off(s: &Server) {
    let mut stream = connect(s);
    let body = padded_patient(4096);
    stream
        .write_all(&head("application/json", "Content-Length: 4096"))
        .unwrap();
    let started = Instant::now();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for byte in body {
                if stream.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let raw = read_answer(stream);
    let waited = started.elapsed();
    let _ = writer.join();
    assert_eq!(raw.status, 408, "{raw:?}");
    let detail = detail(&raw);
    assert!(
        detail.contains("too slowly") && detail.contains(&format!("{BODY_MIN_RATE} bytes/s")),
        "{detail}"
    );
    eprintln!(
        "{:?}: trickling body answered 408 after {waited:?}",
        s.runtime
    );
    assert!(
        waited >= BODY_START,
        "{waited:?}: cut off before BODY_START"
    );
}

/// A chunked body that passes the limit and never ends, sent as fast as the host reads it:
/// the component reads and discards up to DISCARD_MAX_BYTES, then answers 413 and the
/// connection closes. Were it to buffer the body until its end, this would hang.
fn endless_chunked_body_is_refused_while_it_streams(s: &Server) {
    let mut stream = connect(s);
    stream
        .write_all(&head("application/json", "Transfer-Encoding: chunked"))
        .unwrap();
    let started = Instant::now();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let piece = chunk(&vec![b' '; 64 * 1024]);
            let mut sent = 0u64;
            while stream.write_all(&piece).is_ok() {
                sent += piece.len() as u64;
            }
            sent
        })
    };
    let raw = read_answer(stream);
    let waited = started.elapsed();
    let sent = writer.join().unwrap();
    assert_eq!(raw.status, 413, "{raw:?}");
    assert!(detail(&raw).contains(&MAX_BODY_BYTES.to_string()));
    assert!(
        sent >= DISCARD_MAX_BYTES,
        "{sent} bytes sent: the body was not read on to the discard bound"
    );
    eprintln!(
        "{:?}: endless body answered 413 after {waited:?}",
        s.runtime
    );
}

/// A chunked body that passes the limit and then stalls: the component discards what comes,
/// and answers 413 once nothing has come for the idle timeout.
fn a_refused_body_that_stalls_is_answered_after_the_idle_timeout(s: &Server) {
    let piece = vec![b' '; 64 * 1024];
    let pieces: Vec<&[u8]> = vec![&piece; MAX_BODY_BYTES / piece.len() + 1];
    let started = Instant::now();
    let raw = exchange(s, &chunked(&pieces, false), false);
    let waited = started.elapsed();
    assert_eq!(raw.status, 413, "{raw:?}");
    assert!(detail(&raw).contains(&MAX_BODY_BYTES.to_string()));
    assert!(
        waited >= BODY_IDLE_TIMEOUT,
        "{waited:?}: answered before the idle timeout"
    );
}

/// `Content-Length` over the limit is refused from the header: just over it, the component
/// reads what comes of the body (here nothing: 413 after the idle timeout); over the discard
/// bound (10^12) it answers at once. A client that sent `Expect: 100-continue` is answered with
/// the 413 itself, never asked for its body (no `100 Continue` first, which the host would send
/// the moment the component started reading).
fn declared_length_over_the_limit_is_refused_before_reading(s: &Server) {
    for declared in [MAX_BODY_BYTES as u64 + 1, 1_000_000_000_000] {
        let bytes = head("application/json", &format!("Content-Length: {declared}"));
        let raw = exchange(s, &bytes, false);
        assert_eq!(raw.status, 413, "{declared}: {raw:?}");
        raw.problem();
    }
    let declared = 16 * 1024 * 1024;
    let bytes = head(
        "application/json",
        &format!("Content-Length: {declared}\r\nExpect: 100-continue"),
    );
    let raw = exchange(s, &bytes, false);
    assert_eq!(raw.status, 413, "{raw:?}: the first answer must be the 413");
}

/// Exactly MAX_BODY_BYTES is read and answered; one byte more is 413, whether the length is
/// declared or streamed in chunks.
fn the_limit_is_exact_for_both_framings(s: &Server) {
    let at_limit = padded_patient(MAX_BODY_BYTES);
    let over = padded_patient(MAX_BODY_BYTES + 1);
    assert_eq!(exchange(s, &sized(&at_limit), false).status, 200);
    assert_eq!(exchange(s, &sized(&over), false).status, 413);
    let halves = |b: &[u8]| -> Vec<u8> {
        let (a, z) = b.split_at(b.len() / 2);
        chunked(&[a, z], true)
    };
    assert_eq!(exchange(s, &halves(&at_limit), false).status, 200);
    assert_eq!(exchange(s, &halves(&over), false).status, 413);
}

/// A body that stops before its declared end (the client half-closes) or whose chunked
/// framing is broken: the host reports a read error and the component answers 400.
fn truncated_bodies_end_in_a_400(s: &Server) {
    let mut short = head("application/json", "Content-Length: 1000");
    short.extend_from_slice(&patient().as_bytes()[..20]);
    let mut cut_chunk = head("application/json", "Transfer-Encoding: chunked");
    cut_chunk.extend_from_slice(b"40\r\n{\"age\":63");
    let mut bad_framing = head("application/json", "Transfer-Encoding: chunked");
    bad_framing.extend_from_slice(b"zz\r\n{}\r\n0\r\n\r\n");
    for (name, bytes) in [
        ("short Content-Length body", short),
        ("chunk cut short", cut_chunk),
        ("bad chunk size", bad_framing),
    ] {
        let raw = exchange(s, &bytes, true);
        assert_eq!(raw.status, 400, "{name}: {raw:?}");
        let problem = raw.problem();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("could not be read to its end"),
            "{name}: {problem}"
        );
    }
}

/// A body that arrives in pieces with pauses between them is read to its end and answered.
fn a_slow_body_that_ends_is_answered(s: &Server) {
    let mut stream = connect(s);
    let body = patient().into_bytes();
    stream
        .write_all(&head(
            "application/json",
            &format!("Content-Length: {}", body.len()),
        ))
        .unwrap();
    for piece in body.chunks(body.len() / 4 + 1) {
        std::thread::sleep(Duration::from_millis(100));
        stream.write_all(piece).unwrap();
    }
    let raw = read_answer(stream);
    assert_eq!(raw.status, 200, "{raw:?}");
    let answer: Value = serde_json::from_slice(&raw.body).unwrap();
    assert!(answer["probability"].is_f64());
}

/// Depth and number limits are the same in the component as natively.
fn parser_limits_hold_in_the_component(s: &Server) {
    let cases: [(String, u16); 6] = [
        (nested(127), 422),
        (nested(128), 400),
        ("[".repeat(MAX_BODY_BYTES), 400),
        (patient_with_age("1e400"), 400),
        (patient_with_age(&"9".repeat(400)), 400),
        (patient_with_age("1.7e308"), 422),
    ];
    for (body, status) in cases {
        let raw = exchange(s, &sized(body.as_bytes()), false);
        assert_eq!(
            raw.status,
            status,
            "{}…: {raw:?}",
            &body[..body.len().min(40)]
        );
        raw.problem();
    }
}
