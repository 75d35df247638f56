//! `make soak`: a bounded sustained load on the release component served by one real runtime
//! (SOAK_RUNTIME: `wasmtime` for `wasmtime serve`, `spin` for `spin up`), on 127.0.0.1 only.
//!
//! The runtime is started by the served side's harness ([`heart_served::Server`]: through
//! tests/runtimes.py, the one place that knows how each host starts, is known to be ready and
//! stops), as the served tests start it; the soak reads the serving process's RSS (with its
//! children: `spin up` serves from a child `spin trigger http`) from /proc, and stops it with
//! SIGTERM to the launcher. Answers are read off each keep-alive connection with the harness's
//! [`heart_served::read_response`].
//!
//! SOAK_CONCURRENCY workers, each on its own keep-alive connection, send a mix of valid single
//! and batch predictions, invalid requests of every class (a repeated key among them), bodies
//! over the 256 KiB limit (declared and streamed: the component reads and discards the rest,
//! then answers 413, and the connection is kept unless the answer says `connection: close`),
//! `HEAD /health`, slow bodies (a patient in three pieces, 300 ms apart: within the pace rule,
//! so 200) and stalled bodies (a few bytes of a declared 1000, then nothing: 408 by the 2 s
//! idle rule, counted as expected only within 4 s) for SOAK_WARMUP_SECONDS + SOAK_SECONDS,
//! then stop. Every answer's status is checked, and every prediction is compared with the host
//! model core (`heart_model::MODEL`) on the same body. The server's RSS is read at the end of
//! the warm-up and at the end of the run. It passes with zero unexpected statuses, zero
//! connections closed (or writes refused) without an answer, zero wrong answers and an RSS
//! growth within SOAK_MAX_RSS_GROWTH_PCT (`off` skips that check). A summary goes to stdout;
//! with SOAK_RESULTS set, the measurements go to that JSON file as this runtime's entry
//! (`make soak`: bench/soak/results.json), which bench/report.py renders into
//! bench/RESULTS.md. The soak writes no Markdown.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heart_model::schema::{Domain, FEATURES};
use heart_model::{MODEL, MODEL_VERSION};
use heart_served::{chunk, read_response, Resp, Runtime, Server, LAST_CHUNK};
use heart_wire::limits::{BODY_IDLE_TIMEOUT, MAX_BODY_BYTES};
use heart_wire::PredictRequest;
use serde_json::{json, Map, Value};

/// An answer slower than this counts as a connection closed without an answer (a hang).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between the pieces of a slow body: well inside the idle rule (2 s), and the
/// whole body (about 0.6 s) inside the pace rule's 2 s start.
const SLOW_PAUSE: Duration = Duration::from_millis(300);
/// What a stalled body declares; it sends only a few bytes of it.
const STALLED_DECLARED: usize = 1000;
/// A stalled body's 408 counts as expected only if it arrives this soon after its last byte
/// (the idle rule says 2 s).
const STALLED_DEADLINE: Duration = Duration::from_secs(2 * BODY_IDLE_TIMEOUT.as_secs());

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// A percentage; fractions allowed (`0.5`).
fn env_pct(name: &str, default: f64) -> f64 {
    let pct = std::env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default);
    assert!(
        (0.0..=100.0).contains(&pct),
        "{name}={pct} is not a percentage"
    );
    pct
}

#[derive(Clone)]
struct Config {
    runtime: Runtime,
    seconds: u64,
    warmup: u64,
    concurrency: u64,
    pct_batch: f64,
    pct_invalid: f64,
    pct_oversized: f64,
    pct_head: f64,
    pct_slow: f64,
    pct_stalled: f64,
    /// None: the growth is reported, not checked.
    max_rss_growth_pct: Option<f64>,
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Single,
    Batch,
    Head,
    Health,
    BadJson,
    OutOfRange,
    RepeatedKey,
    WrongContentType,
    NotFound,
    WrongMethod,
    OversizedDeclared,
    OversizedStreamed,
    SlowBody,
    StalledBody,
}

/// Every kind, in the order of the report's table; the ones drawn from the SOAK_PCT_INVALID
/// share are one run of it ([`invalid_kinds`]).
const KINDS: [Kind; 14] = [
    Kind::Single,
    Kind::Batch,
    Kind::Head,
    Kind::Health,
    Kind::BadJson,
    Kind::OutOfRange,
    Kind::RepeatedKey,
    Kind::WrongContentType,
    Kind::NotFound,
    Kind::WrongMethod,
    Kind::OversizedDeclared,
    Kind::OversizedStreamed,
    Kind::SlowBody,
    Kind::StalledBody,
];

/// The kinds drawn from the SOAK_PCT_INVALID share (GET /health rides along, as before):
/// those of [`KINDS`] from `Health` to `WrongMethod`.
fn invalid_kinds() -> &'static [Kind] {
    &KINDS[Kind::Health.index()..=Kind::WrongMethod.index()]
}

impl Kind {
    fn index(self) -> usize {
        KINDS.iter().position(|k| *k == self).unwrap()
    }

    fn expected_status(self) -> u16 {
        match self {
            Kind::Single | Kind::Batch | Kind::Health | Kind::Head | Kind::SlowBody => 200,
            Kind::BadJson => 400,
            Kind::OutOfRange | Kind::RepeatedKey => 422,
            Kind::WrongContentType => 415,
            Kind::NotFound => 404,
            Kind::WrongMethod => 405,
            Kind::OversizedDeclared | Kind::OversizedStreamed => 413,
            Kind::StalledBody => 408,
        }
    }

    /// Slow on purpose: left out of the latency percentiles.
    fn deliberately_slow(self) -> bool {
        matches!(self, Kind::SlowBody | Kind::StalledBody)
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Single => "valid, one patient (POST /predict)",
            Kind::Batch => "valid batch of 2–50 patients",
            Kind::Health => "GET /health",
            Kind::Head => "HEAD /health (no body read)",
            Kind::BadJson => "malformed JSON",
            Kind::OutOfRange => "values out of range",
            Kind::RepeatedKey => "a key given twice",
            Kind::WrongContentType => "Content-Type: text/plain",
            Kind::NotFound => "GET of an unknown path",
            Kind::WrongMethod => "DELETE /predict",
            Kind::OversizedDeclared => "300 KiB body, Content-Length (read and discarded)",
            Kind::OversizedStreamed => "320 KiB body, chunked (read and discarded)",
            Kind::SlowBody => "valid patient in 3 pieces, 300 ms apart",
            Kind::StalledBody => "stalled body (a few bytes of 1000), 408 within 4 s",
        }
    }
}

/// xorshift64*: reproducible per worker, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A valid patient as JSON: every value in its domain, optional features sometimes null or
/// absent.
fn random_patient(rng: &mut Rng) -> Value {
    let mut object = Map::new();
    for f in &FEATURES {
        if !f.required && rng.below(8) == 0 {
            if rng.below(2) == 0 {
                object.insert(f.name.into(), Value::Null);
            }
            continue;
        }
        let x = match f.domain {
            Domain::Range { min, max, integer } => {
                let x = min + rng.unit() * (max - min);
                if integer {
                    x.round()
                } else {
                    (x * 10.0).round() / 10.0
                }
            }
            Domain::Levels(levels) => levels[rng.below(levels.len() as u64) as usize],
        };
        object.insert(f.name.into(), json!(x));
    }
    Value::Object(object)
}

/// How a request goes on the wire.
enum Send {
    /// All at once.
    Whole(Vec<u8>),
    /// Piece by piece, with a pause before each piece after the first.
    Paced(Vec<Vec<u8>>, Duration),
    /// These bytes, then nothing: the answer is read with the body unfinished, and the
    /// connection is dropped after it whatever it says (its request never ended).
    Stalled(Vec<u8>),
}

struct Planned {
    kind: Kind,
    send: Send,
    /// The body whose predictions the answer must match (valid kinds only).
    body: Option<Vec<u8>>,
}

fn head_of(method: &str, path: &str, content_type: Option<&str>, length: usize) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    head.into_bytes()
}

fn request(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut bytes = head_of(method, path, content_type, body.len());
    bytes.extend_from_slice(body);
    bytes
}

fn pick(rng: &mut Rng, cfg: &Config) -> Kind {
    let roll = rng.unit() * 100.0;
    let shares = [
        (cfg.pct_oversized, None),
        (cfg.pct_stalled, Some(Kind::StalledBody)),
        (cfg.pct_slow, Some(Kind::SlowBody)),
        (cfg.pct_head, Some(Kind::Head)),
        (cfg.pct_invalid, None),
        (cfg.pct_batch, Some(Kind::Batch)),
    ];
    let mut upto = 0.0;
    for (i, (pct, kind)) in shares.into_iter().enumerate() {
        upto += pct;
        if roll < upto {
            return match (i, kind) {
                (_, Some(kind)) => kind,
                (0, None) => {
                    [Kind::OversizedDeclared, Kind::OversizedStreamed][rng.below(2) as usize]
                }
                _ => {
                    let invalid = invalid_kinds();
                    invalid[rng.below(invalid.len() as u64) as usize]
                }
            };
        }
    }
    Kind::Single
}

fn plan(rng: &mut Rng, cfg: &Config) -> Planned {
    let kind = pick(rng, cfg);
    let json = Some("application/json");
    let whole = |bytes| Send::Whole(bytes);
    let (send, body) = match kind {
        Kind::Single => {
            let body = random_patient(rng).to_string().into_bytes();
            (whole(request("POST", "/predict", json, &body)), Some(body))
        }
        Kind::Batch => {
            let n = 2 + rng.below(49) as usize;
            let instances: Vec<Value> = (0..n).map(|_| random_patient(rng)).collect();
            let body = json!({ "instances": instances }).to_string().into_bytes();
            (whole(request("POST", "/predict", json, &body)), Some(body))
        }
        Kind::Health => (whole(request("GET", "/health", None, b"")), None),
        Kind::Head => (whole(request("HEAD", "/health", None, b"")), None),
        Kind::BadJson => {
            let mut body = random_patient(rng).to_string().into_bytes();
            body.truncate(1 + rng.below(body.len() as u64 - 1) as usize);
            (whole(request("POST", "/predict", json, &body)), None)
        }
        Kind::OutOfRange => {
            let mut p = random_patient(rng);
            p["age"] = json!(200 + rng.below(1000));
            p["cp"] = json!(9);
            let body = p.to_string();
            (
                whole(request("POST", "/predict", json, body.as_bytes())),
                None,
            )
        }
        Kind::RepeatedKey => {
            // A valid patient with one of its keys given again (with a valid value): only the
            // repetition is wrong.
            let p = random_patient(rng);
            let object = p.as_object().unwrap();
            let (key, value) = object
                .iter()
                .nth(rng.below(object.len() as u64) as usize)
                .unwrap();
            let text = p.to_string();
            let body = format!("{},{}:{}}}", &text[..text.len() - 1], json!(key), value);
            (
                whole(request("POST", "/predict", json, body.as_bytes())),
                None,
            )
        }
        Kind::WrongContentType => {
            let body = random_patient(rng).to_string();
            let bytes = request("POST", "/predict", Some("text/plain"), body.as_bytes());
            (whole(bytes), None)
        }
        Kind::NotFound => {
            let path = format!("/nope/{}", rng.below(1000));
            (whole(request("GET", &path, None, b"")), None)
        }
        Kind::WrongMethod => (whole(request("DELETE", "/predict", None, b"")), None),
        Kind::OversizedDeclared => {
            let body = vec![b' '; 300 * 1024];
            (whole(request("POST", "/predict", json, &body)), None)
        }
        Kind::OversizedStreamed => {
            let mut bytes = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let piece = vec![b' '; 64 * 1024];
            for _ in 0..(MAX_BODY_BYTES / piece.len() + 1) {
                bytes.extend(chunk(&piece));
            }
            bytes.extend_from_slice(LAST_CHUNK);
            (whole(bytes), None)
        }
        Kind::SlowBody => {
            let body = random_patient(rng).to_string().into_bytes();
            let third = body.len() / 3;
            let mut first = head_of("POST", "/predict", json, body.len());
            first.extend_from_slice(&body[..third]);
            let pieces = vec![
                first,
                body[third..2 * third].to_vec(),
                body[2 * third..].to_vec(),
            ];
            (Send::Paced(pieces, SLOW_PAUSE), Some(body))
        }
        Kind::StalledBody => {
            let body = random_patient(rng).to_string().into_bytes();
            let mut bytes = head_of("POST", "/predict", json, STALLED_DECLARED);
            bytes.extend_from_slice(&body[..1 + rng.below(16) as usize]);
            (Send::Stalled(bytes), None)
        }
    };
    Planned { kind, send, body }
}

// ---------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    sent: [u64; KINDS.len()],
    as_expected: [u64; KINDS.len()],
    /// Per kind, the slowest answer (µs), as expected or not.
    slowest_us: [u64; KINDS.len()],
    /// Per kind, the time its answered requests held their workers (µs, first byte to answer).
    busy_us: [u64; KINDS.len()],
    /// What counts against the verdict.
    failures: Failures,
    /// Answers to oversized bodies that kept the connection open (and were reused).
    oversized_kept_open: u64,
    predictions_checked: u64,
    latencies_us: Vec<u32>,
    examples: Vec<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        for i in 0..KINDS.len() {
            self.sent[i] += other.sent[i];
            self.as_expected[i] += other.as_expected[i];
            self.slowest_us[i] = self.slowest_us[i].max(other.slowest_us[i]);
            self.busy_us[i] += other.busy_us[i];
        }
        self.failures = self.failures.add(other.failures);
        self.oversized_kept_open += other.oversized_kept_open;
        self.predictions_checked += other.predictions_checked;
        self.latencies_us.extend(other.latencies_us);
        for e in other.examples {
            self.note(e);
        }
    }

    fn note(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }

    /// What counts against the verdict, warm-up included.
    fn failures(&self) -> Failures {
        self.failures
    }
}

/// The answers and connections that fail a soak, counted.
#[derive(Default, Clone, Copy)]
struct Failures {
    /// Answers whose status is not the one expected for their kind.
    unexpected_status: u64,
    /// Answers with the expected status but a wrong body or headers, or (stalled bodies) late.
    wrong: u64,
    server_errors: u64,
    /// Connections that closed, reset or hung instead of answering.
    closed_without_answer: u64,
    /// Requests whose writing failed (broken pipe, reset) though an answer then arrived.
    write_failed: u64,
    connect_failed: u64,
}

impl Failures {
    fn add(self, o: Failures) -> Failures {
        Failures {
            unexpected_status: self.unexpected_status + o.unexpected_status,
            wrong: self.wrong + o.wrong,
            server_errors: self.server_errors + o.server_errors,
            closed_without_answer: self.closed_without_answer + o.closed_without_answer,
            write_failed: self.write_failed + o.write_failed,
            connect_failed: self.connect_failed + o.connect_failed,
        }
    }

    fn none(&self) -> bool {
        self.total() == 0
    }

    fn total(&self) -> u64 {
        self.unexpected_status
            + self.wrong
            + self.server_errors
            + self.closed_without_answer
            + self.write_failed
            + self.connect_failed
    }
}

/// Why an answer is not the one expected.
enum Wrong {
    Status(String),
    Content(String),
}

/// Checks an answer that came `took` after the request's last byte.
fn check(planned: &Planned, answer: &Resp, took: Duration, stats: &mut Stats) -> Result<(), Wrong> {
    let kind = planned.kind;
    let expected = kind.expected_status();
    if answer.status != expected {
        return Err(Wrong::Status(format!(
            "{kind:?}: status {} (expected {expected}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        )));
    }
    if kind == Kind::StalledBody && took > STALLED_DEADLINE {
        return Err(Wrong::Content(format!(
            "{kind:?}: 408 after {:.2} s (at most {} s)",
            took.as_secs_f64(),
            STALLED_DEADLINE.as_secs()
        )));
    }
    let content_type = answer.header("content-type").unwrap_or_default();
    if kind == Kind::Head {
        // Headers only; the body (had one been read) would have desynchronised the next answer.
        let content_length = answer.header("content-length");
        return if answer.header("x-model-version") == Some(MODEL_VERSION)
            && content_type == "application/json"
            && content_length
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n > 0)
        {
            Ok(())
        } else {
            Err(Wrong::Content(format!(
                "Head: x-model-version {:?}, content-type {content_type:?}, content-length \
                 {content_length:?}",
                answer.header("x-model-version")
            )))
        };
    }
    let value: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| Wrong::Content(format!("{kind:?}: body is not JSON: {e}")))?;
    if expected >= 400 {
        if content_type != "application/problem+json" || value["status"] != expected {
            return Err(Wrong::Content(format!(
                "{kind:?}: not problem+json: {value}"
            )));
        }
        if kind == Kind::RepeatedKey
            && !value["errors"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("more than once"))
        {
            return Err(Wrong::Content(format!(
                "{kind:?}: not about the repeated key: {value}"
            )));
        }
        return Ok(());
    }
    let Some(body) = &planned.body else {
        return if value["status"] == "ok" && value["model_version"] == MODEL_VERSION {
            Ok(())
        } else {
            Err(Wrong::Content(format!("health: {value}")))
        };
    };
    let request = PredictRequest::from_json_bytes(body)
        .map_err(|e| Wrong::Content(format!("the soak sent an invalid body: {e:?}")))?;
    let got: Vec<&Value> = match request {
        PredictRequest::Single(_) => vec![&value],
        PredictRequest::Batch(_) => value["predictions"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    };
    if got.len() != request.patients().len() || value["model_version"] != MODEL_VERSION {
        return Err(Wrong::Content(format!(
            "{kind:?}: {} predictions: {value}",
            got.len()
        )));
    }
    for (patient, got) in request.patients().iter().zip(got) {
        let expected = MODEL.assess(patient);
        let p = got["probability"].as_f64().unwrap_or(f64::NAN);
        let prediction = got["prediction"].as_u64();
        let close = (p - expected.probability).abs() <= 1e-12; // false for NaN
        if !close || prediction != Some(u64::from(expected.prediction)) {
            return Err(Wrong::Content(format!(
                "{kind:?}: probability {p} / prediction {prediction:?}, host model says {} / {}",
                expected.probability, expected.prediction
            )));
        }
        stats.predictions_checked += 1;
    }
    Ok(())
}

type Conn = (TcpStream, BufReader<TcpStream>);

/// Writes the request as planned; the instant its last byte went out.
fn send(stream: &mut TcpStream, how: &Send) -> (std::io::Result<()>, Instant) {
    let result = match how {
        Send::Whole(bytes) | Send::Stalled(bytes) => stream.write_all(bytes),
        Send::Paced(pieces, pause) => {
            let mut result = Ok(());
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(*pause);
                }
                result = stream.write_all(piece).and_then(|()| stream.flush());
                if result.is_err() {
                    break;
                }
            }
            result
        }
    };
    (result, Instant::now())
}

fn worker(
    addr: String,
    cfg: Config,
    seed: u64,
    measure_from: Instant,
    stop: Arc<AtomicBool>,
) -> (Stats, Failures) {
    let mut rng = Rng(seed | 1);
    let mut warm = Stats::default();
    let mut measured = Stats::default();
    let mut conn: Option<Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        let planned = plan(&mut rng, &cfg);
        let kind = planned.kind;
        let started = Instant::now();
        let stats = if started >= measure_from {
            &mut measured
        } else {
            &mut warm
        };
        stats.sent[kind.index()] += 1;
        if conn.is_none() {
            match TcpStream::connect(&addr) {
                Ok(s) => {
                    s.set_read_timeout(Some(READ_TIMEOUT)).ok();
                    s.set_nodelay(true).ok();
                    let reader = BufReader::new(s.try_clone().expect("clone socket"));
                    conn = Some((s, reader));
                }
                Err(e) => {
                    stats.failures.connect_failed += 1;
                    stats.note(format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        }
        let (stream, reader) = conn.as_mut().unwrap();
        let (written, last_byte) = send(stream, &planned.send);
        match read_response(reader, kind == Kind::Head) {
            Ok(answer) => {
                let took = last_byte.elapsed();
                let total_us = started.elapsed().as_micros() as u64;
                let i = kind.index();
                stats.slowest_us[i] = stats.slowest_us[i].max(total_us);
                stats.busy_us[i] += total_us;
                if !kind.deliberately_slow() {
                    stats
                        .latencies_us
                        .push(total_us.min(u64::from(u32::MAX)) as u32);
                }
                if answer.status >= 500 {
                    stats.failures.server_errors += 1;
                }
                if let Err(e) = &written {
                    // The answer came, but a client that stops at a failed write never sees it.
                    stats.failures.write_failed += 1;
                    stats.note(format!(
                        "{kind:?}: writing failed ({e}), then {}",
                        answer.status
                    ));
                }
                match check(&planned, &answer, took, stats) {
                    Ok(()) => stats.as_expected[i] += 1,
                    Err(Wrong::Status(what)) => {
                        stats.failures.unexpected_status += 1;
                        stats.note(what);
                    }
                    Err(Wrong::Content(what)) => {
                        stats.failures.wrong += 1;
                        stats.note(what);
                    }
                }
                let stalled = matches!(planned.send, Send::Stalled(_));
                if !answer.keeps_alive() || written.is_err() || stalled {
                    conn = None;
                } else if matches!(kind, Kind::OversizedDeclared | Kind::OversizedStreamed) {
                    stats.oversized_kept_open += 1;
                }
            }
            Err(e) => {
                stats.failures.closed_without_answer += 1;
                stats.note(format!(
                    "{kind:?}: no answer: {e} after {:.2} s (write: {written:?})",
                    started.elapsed().as_secs_f64()
                ));
                conn = None;
            }
        }
    }
    // Warm-up correctness counts too; only its volumes and timings are kept apart.
    let failures = warm.failures();
    let examples = std::mem::take(&mut warm.examples);
    for e in examples {
        measured.note(format!("(warm-up) {e}"));
    }
    (measured, failures)
}

// ---------------------------------------------------------------------------------------
// The server's memory, from /proc
// ---------------------------------------------------------------------------------------

/// How many once-a-second RSS readings each end of the comparison takes the median of.
const RSS_WINDOW: usize = 5;

fn window_median(samples: &[(f64, u64)]) -> u64 {
    let mut last: Vec<u64> = samples
        .iter()
        .rev()
        .take(RSS_WINDOW)
        .map(|(_, kib)| *kib)
        .collect();
    last.sort_unstable();
    last[last.len() / 2]
}

/// `pid` and its descendants, from /proc.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // `PID (COMM) STATE PPID …`: COMM may hold spaces and parentheses.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
        {
            parent.insert(p, ppid);
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// (VmRSS, VmHWM) of a process and its descendants, summed, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let mut total = (0, 0);
    for p in process_tree(pid) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total.0 += field("VmRSS:");
        total.1 += field("VmHWM:");
    }
    total
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// What the runtime is, in words, and the serving binary's version.
fn describe_runtime(runtime: Runtime, pid: u32) -> (&'static str, String) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let version = shell(exe.to_str().unwrap_or(runtime.name()), &["--version"]);
    let what = match runtime {
        Runtime::Wasmtime => "`wasmtime serve`",
        Runtime::Spin => "`spin up` on spin.toml",
        Runtime::SpinP3 => "`spin up` on spin-p3.toml (the wasi:http 0.3 build)",
        _ => "the runtime",
    };
    (
        what,
        version.lines().next().unwrap_or(runtime.name()).to_string(),
    )
}

/// Replaces this runtime's entry of the results file (a JSON object keyed by runtime), keeping
/// the other runtimes' entries as they were.
fn write_results(path: &Path, runtime: Runtime, entry: Value) {
    let mut all = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok())
        .unwrap_or_default();
    all.insert(runtime.name().into(), entry);
    let text = serde_json::to_string_pretty(&Value::Object(all)).expect("results as JSON");
    std::fs::write(path, text + "\n").expect("write the results");
}

fn main() {
    let growth_limit = std::env::var("SOAK_MAX_RSS_GROWTH_PCT").unwrap_or_else(|_| "10".into());
    let runtime = std::env::var("SOAK_RUNTIME").unwrap_or_else(|_| "wasmtime".into());
    let cfg = Config {
        runtime: Runtime::from_name(&runtime)
            .filter(|r| matches!(r, Runtime::Wasmtime | Runtime::Spin | Runtime::SpinP3))
            .unwrap_or_else(|| panic!("SOAK_RUNTIME={runtime} (wasmtime, spin or spin-p3)")),
        seconds: env_num("SOAK_SECONDS", 60),
        warmup: env_num("SOAK_WARMUP_SECONDS", 60),
        concurrency: env_num("SOAK_CONCURRENCY", 64),
        pct_batch: env_pct("SOAK_PCT_BATCH", 10.0),
        pct_invalid: env_pct("SOAK_PCT_INVALID", 20.0),
        pct_oversized: env_pct("SOAK_PCT_OVERSIZED", 5.0),
        pct_head: env_pct("SOAK_PCT_HEAD", 3.0),
        pct_slow: env_pct("SOAK_PCT_SLOW", 0.5),
        pct_stalled: env_pct("SOAK_PCT_STALLED", 0.2),
        max_rss_growth_pct: match growth_limit.trim() {
            "off" | "" => None,
            v => Some(v.parse().unwrap_or_else(|_| {
                panic!("SOAK_MAX_RSS_GROWTH_PCT={v} is not a number or `off`")
            })),
        },
    };
    let shares = cfg.pct_batch
        + cfg.pct_invalid
        + cfg.pct_oversized
        + cfg.pct_head
        + cfg.pct_slow
        + cfg.pct_stalled;
    assert!(shares <= 100.0, "the SOAK_PCT_* add up to {shares} %");
    assert!(
        cfg.seconds <= 600 && cfg.warmup <= 120 && cfg.concurrency <= 256,
        "the soak is bounded: at most 600 s, 120 s of warm-up, 256 connections"
    );
    // $HEART_WASM, or the release build (target/heart_disease_api.wasm).
    let mut server = Server::start(cfg.runtime);
    let pid = server.pid;
    let (runtime_what, runtime_version) = describe_runtime(cfg.runtime, pid);
    eprintln!(
        "soak: {} on {} workers, {} s warm-up + {} s against {} (pid {pid}, sha256:{})",
        runtime_version,
        cfg.concurrency,
        cfg.warmup,
        cfg.seconds,
        server.addr,
        &server.sha256[..12]
    );

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cfg.warmup);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|i| {
            let (addr, cfg, stop) = (server.addr.clone(), cfg.clone(), stop.clone());
            std::thread::spawn(move || {
                worker(
                    addr,
                    cfg,
                    0x9e37_79b9_7f4a_7c15 ^ ((i + 1) * 0x1000_0001),
                    measure_from,
                    stop,
                )
            })
        })
        .collect();
    // The server's RSS once a second for the whole run. One reading moves with how many
    // requests happen to be in flight, so each end is the median of the last
    // RSS_WINDOW readings before it.
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let end = measure_from + Duration::from_secs(cfg.seconds);
    let mut rss_warm = None;
    let mut next = start + Duration::from_secs(1);
    while next <= end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        samples.push((next.duration_since(start).as_secs_f64(), rss_kib(pid).0));
        if rss_warm.is_none() && next >= measure_from {
            rss_warm = Some(window_median(&samples));
        }
        next += Duration::from_secs(1);
    }
    let rss_warm = rss_warm.expect("a warm-up reading");
    let rss_end = window_median(&samples);
    let (rss_last, hwm) = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    let measured_secs = end.duration_since(measure_from).as_secs_f64();
    let mut stats = Stats::default();
    let mut failures = Failures::default();
    for w in workers {
        let (s, warm_failures) = w.join().expect("a worker panicked");
        failures = failures.add(warm_failures);
        stats.merge(s);
    }
    failures = failures.add(stats.failures());
    std::thread::sleep(Duration::from_secs(1));
    let (rss_idle, _) = rss_kib(pid);
    let server_alive = server.alive();
    let stopped = server.stop();
    let stopped_cleanly = stopped.is_some_and(|s| s.success());
    if !(server_alive && stopped_cleanly) {
        server.keep_log();
        eprintln!(
            "soak: the runtime {} (launcher: {stopped:?}); its log: {}",
            if server_alive {
                "did not stop cleanly"
            } else {
                "exited during the run"
            },
            server.log_path().display()
        );
    }

    stats.latencies_us.sort_unstable();
    let total: u64 = stats.sent.iter().sum();
    let growth = (rss_end as f64 / rss_warm as f64 - 1.0) * 100.0;
    let every_kind_ran = stats.sent.iter().all(|n| *n > 0);
    let all_expected = stats.sent == stats.as_expected;
    let rss_ok = cfg.max_rss_growth_pct.is_none_or(|limit| growth <= limit);
    let pass = failures.none()
        && all_expected
        && every_kind_ran
        && server_alive
        && stopped_cleanly
        && rss_ok;

    let kinds: Vec<Value> = KINDS
        .iter()
        .map(|k| {
            let i = k.index();
            json!({
                "kind": format!("{k:?}"),
                "request": k.describe(),
                "expected": k.expected_status(),
                "sent": stats.sent[i],
                "as_expected": stats.as_expected[i],
                "slowest_us": stats.slowest_us[i],
                "busy_us": stats.busy_us[i],
            })
        })
        .collect();
    let load_end: Vec<String> = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(String::from)
        .collect();
    // What bench/report.py renders into bench/RESULTS.md: the figures, not their wording.
    let entry = json!({
        "runtime": cfg.runtime.name(),
        "what": runtime_what,
        "version": runtime_version,
        "date": shell("date", &["-u", "+%Y-%m-%d %H:%M"]),
        "wasm_sha256": server.sha256,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_end": load_end.join(" "),
        "params": {
            "warmup_s": cfg.warmup,
            "seconds": cfg.seconds,
            "concurrency": cfg.concurrency,
            "pct": {
                "oversized": cfg.pct_oversized,
                "stalled": cfg.pct_stalled,
                "slow": cfg.pct_slow,
                "head": cfg.pct_head,
                "invalid": cfg.pct_invalid,
                "batch": cfg.pct_batch,
            },
            "max_rss_growth_pct": cfg.max_rss_growth_pct,
        },
        "kinds": kinds,
        "requests": total,
        "measured_s": measured_secs,
        "latency_ms": {
            "p50": percentile(&stats.latencies_us, 0.5),
            "p99": percentile(&stats.latencies_us, 0.99),
            "max": percentile(&stats.latencies_us, 1.0),
        },
        "failures": {
            "unexpected_status": failures.unexpected_status,
            "closed_without_answer": failures.closed_without_answer,
            "write_failed": failures.write_failed,
            "connect_failed": failures.connect_failed,
            "server_errors": failures.server_errors,
            "wrong": failures.wrong,
        },
        "predictions_checked": stats.predictions_checked,
        "oversized_kept_open": stats.oversized_kept_open,
        "rss": {
            "what": if cfg.runtime != Runtime::Wasmtime {
                "`spin up` and the `spin trigger http` child it serves from, summed"
            } else {
                "the wasmtime process"
            },
            "window": RSS_WINDOW,
            "warm_kib": rss_warm,
            "end_kib": rss_end,
            "growth_pct": growth,
            "last_kib": rss_last,
            "hwm_kib": hwm,
            "idle_kib": rss_idle,
            "interval_s": 1,
            "samples": samples
                .iter()
                .map(|(t, kib)| json!([t, kib]))
                .collect::<Vec<_>>(),
        },
        "every_kind_ran": every_kind_ran,
        "server_alive": server_alive,
        "stopped_cleanly": stopped_cleanly,
        "launcher": format!("{stopped:?}"),
        "pass": pass,
        "examples": stats.examples,
    });
    println!(
        "soak: {} ({}): {total} requests in {measured_secs:.0} s, {} unexpected statuses, {} \
         connections closed without an answer, {} other failures; RSS {:+.1} % ({}); {}",
        runtime_version,
        cfg.runtime.name(),
        failures.unexpected_status,
        failures.closed_without_answer,
        failures.total() - failures.unexpected_status - failures.closed_without_answer,
        growth,
        cfg.max_rss_growth_pct
            .map_or("not checked".to_string(), |l| format!("limit +{l} %")),
        if pass { "pass" } else { "FAIL" }
    );
    for k in KINDS.iter().filter(|k| {
        let i = k.index();
        stats.sent[i] != stats.as_expected[i] || stats.sent[i] == 0
    }) {
        println!(
            "soak:   {k:?}: {} sent, {} as expected",
            stats.sent[k.index()],
            stats.as_expected[k.index()]
        );
    }
    for e in &stats.examples {
        println!("soak:   {e}");
    }
    if !server_alive || !stopped_cleanly {
        println!("soak:   the runtime: alive {server_alive}, launcher {stopped:?}");
    }

    if let Some(path) = std::env::var_os("SOAK_RESULTS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    {
        write_results(&path, cfg.runtime, entry);
        eprintln!(
            "soak: results written to {} (`python3 bench/report.py` renders bench/RESULTS.md)",
            path.display()
        );
    }
    if !pass {
        eprintln!("soak: FAILED on {}", cfg.runtime.name());
        std::process::exit(1);
    }
}
