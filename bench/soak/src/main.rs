//! `make soak`: a bounded sustained load on the release component under `wasmtime serve`, on
//! 127.0.0.1 only.
//!
//! SOAK_CONCURRENCY workers, each on its own keep-alive connection, send a mix of valid single
//! and batch predictions, invalid requests of every class, and bodies over the 256 KiB limit
//! (declared and streamed) for SOAK_WARMUP_SECONDS + SOAK_SECONDS, then stop. Every answer's
//! status is checked, and every prediction is compared with the host model core
//! (`heart_model::MODEL`) on the same body. The server's RSS is read from /proc at the end of
//! the warm-up and at the end of the run. It passes with zero 5xx, zero connection errors,
//! zero wrong answers and an RSS growth within SOAK_MAX_RSS_GROWTH_PCT; the result goes to
//! stdout and, with SOAK_RESULTS set, between the soak markers of that Markdown file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heart_model::schema::{Domain, FEATURES};
use heart_model::{PredictRequest, MODEL, MODEL_VERSION};
use serde_json::{json, Map, Value};

const BEGIN: &str = "<!-- soak:begin -->";
const END: &str = "<!-- soak:end -->";
/// The component's body limit (src/body.rs); the oversized requests send more than this.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// An answer slower than this counts as a connection error (a hang).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

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

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("set {name}")))
}

#[derive(Clone)]
struct Config {
    seconds: u64,
    warmup: u64,
    concurrency: u64,
    pct_batch: u64,
    pct_invalid: u64,
    pct_oversized: u64,
    max_rss_growth_pct: f64,
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Single,
    Batch,
    Health,
    BadJson,
    OutOfRange,
    WrongContentType,
    NotFound,
    WrongMethod,
    OversizedDeclared,
    OversizedStreamed,
}

const KINDS: [Kind; 10] = [
    Kind::Single,
    Kind::Batch,
    Kind::Health,
    Kind::BadJson,
    Kind::OutOfRange,
    Kind::WrongContentType,
    Kind::NotFound,
    Kind::WrongMethod,
    Kind::OversizedDeclared,
    Kind::OversizedStreamed,
];

impl Kind {
    fn index(self) -> usize {
        KINDS.iter().position(|k| *k == self).unwrap()
    }

    fn expected_status(self) -> u16 {
        match self {
            Kind::Single | Kind::Batch | Kind::Health => 200,
            Kind::BadJson => 400,
            Kind::OutOfRange => 422,
            Kind::WrongContentType => 415,
            Kind::NotFound => 404,
            Kind::WrongMethod => 405,
            Kind::OversizedDeclared | Kind::OversizedStreamed => 413,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Single => "valid, one patient (POST /predict)",
            Kind::Batch => "valid batch of 2–50 patients",
            Kind::Health => "GET /health",
            Kind::BadJson => "malformed JSON",
            Kind::OutOfRange => "values out of range",
            Kind::WrongContentType => "Content-Type: text/plain",
            Kind::NotFound => "GET of an unknown path",
            Kind::WrongMethod => "DELETE /predict",
            Kind::OversizedDeclared => "300 KiB body, Content-Length",
            Kind::OversizedStreamed => "320 KiB body, chunked",
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

struct Planned {
    kind: Kind,
    bytes: Vec<u8>,
    /// The body whose predictions the answer must match (valid kinds only).
    body: Option<Vec<u8>>,
}

fn request(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn plan(rng: &mut Rng, cfg: &Config) -> Planned {
    let roll = rng.below(100);
    let kind = if roll < cfg.pct_oversized {
        [Kind::OversizedDeclared, Kind::OversizedStreamed][rng.below(2) as usize]
    } else if roll < cfg.pct_oversized + cfg.pct_invalid {
        [
            Kind::Health,
            Kind::BadJson,
            Kind::OutOfRange,
            Kind::WrongContentType,
            Kind::NotFound,
            Kind::WrongMethod,
        ][rng.below(6) as usize]
    } else if roll < cfg.pct_oversized + cfg.pct_invalid + cfg.pct_batch {
        Kind::Batch
    } else {
        Kind::Single
    };
    let json = Some("application/json");
    let (bytes, body) = match kind {
        Kind::Single => {
            let body = random_patient(rng).to_string().into_bytes();
            (request("POST", "/predict", json, &body), Some(body))
        }
        Kind::Batch => {
            let n = 2 + rng.below(49) as usize;
            let instances: Vec<Value> = (0..n).map(|_| random_patient(rng)).collect();
            let body = json!({ "instances": instances }).to_string().into_bytes();
            (request("POST", "/predict", json, &body), Some(body))
        }
        Kind::Health => (request("GET", "/health", None, b""), None),
        Kind::BadJson => {
            let mut body = random_patient(rng).to_string().into_bytes();
            body.truncate(1 + rng.below(body.len() as u64 - 1) as usize);
            (request("POST", "/predict", json, &body), None)
        }
        Kind::OutOfRange => {
            let mut p = random_patient(rng);
            p["age"] = json!(200 + rng.below(1000));
            p["cp"] = json!(9);
            (
                request("POST", "/predict", json, p.to_string().as_bytes()),
                None,
            )
        }
        Kind::WrongContentType => {
            let body = random_patient(rng).to_string();
            (
                request("POST", "/predict", Some("text/plain"), body.as_bytes()),
                None,
            )
        }
        Kind::NotFound => (
            request("GET", &format!("/nope/{}", rng.below(1000)), None, b""),
            None,
        ),
        Kind::WrongMethod => (request("DELETE", "/predict", None, b""), None),
        Kind::OversizedDeclared => {
            let body = vec![b' '; 300 * 1024];
            (request("POST", "/predict", json, &body), None)
        }
        Kind::OversizedStreamed => {
            let mut bytes = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..(MAX_BODY_BYTES / chunk.len() + 1) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(&chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            (bytes, None)
        }
    };
    Planned { kind, bytes, body }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 client: keep-alive, chunked or sized answers
// ---------------------------------------------------------------------------------------

struct Answer {
    status: u16,
    close: bool,
    content_type: String,
    body: Vec<u8>,
}

fn read_answer(reader: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed before an answer",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let (mut close, mut chunked, mut length, mut content_type) =
        (false, false, None, String::new());
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(bad(format!("header {l:?}")));
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "connection" => close = v.eq_ignore_ascii_case("close"),
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "content-length" => length = v.parse::<usize>().ok(),
            "content-type" => content_type = v.to_string(),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("chunk size {line:?}")))?;
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
        close = true;
    }
    Ok(Answer {
        status,
        close,
        content_type,
        body,
    })
}

// ---------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    sent: [u64; KINDS.len()],
    as_expected: [u64; KINDS.len()],
    server_errors: u64,
    connection_errors: u64,
    wrong: u64,
    predictions_checked: u64,
    latencies_us: Vec<u32>,
    examples: Vec<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        for i in 0..KINDS.len() {
            self.sent[i] += other.sent[i];
            self.as_expected[i] += other.as_expected[i];
        }
        self.server_errors += other.server_errors;
        self.connection_errors += other.connection_errors;
        self.wrong += other.wrong;
        self.predictions_checked += other.predictions_checked;
        self.latencies_us.extend(other.latencies_us);
        for e in other.examples {
            if self.examples.len() < 10 {
                self.examples.push(e);
            }
        }
    }

    fn note(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }
}

/// Checks an answer; `Err` says what is wrong with it.
fn check(planned: &Planned, answer: &Answer, stats: &mut Stats) -> Result<(), String> {
    let expected = planned.kind.expected_status();
    if answer.status != expected {
        return Err(format!(
            "{:?}: status {} (expected {expected}): {}",
            planned.kind,
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        ));
    }
    let value: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("{:?}: body is not JSON: {e}", planned.kind))?;
    if expected >= 400 {
        if answer.content_type != "application/problem+json" || value["status"] != expected {
            return Err(format!("{:?}: not problem+json: {value}", planned.kind));
        }
        return Ok(());
    }
    let Some(body) = &planned.body else {
        return if value["status"] == "ok" && value["model_version"] == MODEL_VERSION {
            Ok(())
        } else {
            Err(format!("health: {value}"))
        };
    };
    let request = PredictRequest::from_json_bytes(body)
        .map_err(|e| format!("the soak sent an invalid body: {e:?}"))?;
    let got: Vec<&Value> = match request {
        PredictRequest::Single(_) => vec![&value],
        PredictRequest::Batch(_) => value["predictions"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    };
    if got.len() != request.patients().len() || value["model_version"] != MODEL_VERSION {
        return Err(format!(
            "{:?}: {} predictions: {value}",
            planned.kind,
            got.len()
        ));
    }
    for (patient, got) in request.patients().iter().zip(got) {
        let expected = MODEL.assess(patient);
        let p = got["probability"].as_f64().unwrap_or(f64::NAN);
        let prediction = got["prediction"].as_u64();
        let close = (p - expected.probability).abs() <= 1e-12; // false for NaN
        if !close || prediction != Some(u64::from(expected.prediction)) {
            return Err(format!(
                "{:?}: probability {p} / prediction {prediction:?}, host model says {} / {}",
                planned.kind, expected.probability, expected.prediction
            ));
        }
        stats.predictions_checked += 1;
    }
    Ok(())
}

fn worker(
    addr: String,
    cfg: Config,
    seed: u64,
    measure_from: Instant,
    stop: Arc<AtomicBool>,
) -> Stats {
    let mut rng = Rng(seed | 1);
    let mut warm = Stats::default();
    let mut measured = Stats::default();
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    while !stop.load(Ordering::Relaxed) {
        let planned = plan(&mut rng, &cfg);
        let started = Instant::now();
        let stats = if started >= measure_from {
            &mut measured
        } else {
            &mut warm
        };
        stats.sent[planned.kind.index()] += 1;
        if conn.is_none() {
            match TcpStream::connect(&addr) {
                Ok(s) => {
                    s.set_read_timeout(Some(READ_TIMEOUT)).ok();
                    s.set_nodelay(true).ok();
                    let reader = BufReader::new(s.try_clone().expect("clone socket"));
                    conn = Some((s, reader));
                }
                Err(e) => {
                    stats.connection_errors += 1;
                    stats.note(format!("connect: {e}"));
                    continue;
                }
            }
        }
        let (stream, reader) = conn.as_mut().unwrap();
        // An oversized body may be refused, and the connection closed, before it is all
        // written: a failed write is fine as long as the answer then arrives.
        let written = stream.write_all(&planned.bytes);
        match read_answer(reader) {
            Ok(answer) => {
                stats
                    .latencies_us
                    .push(started.elapsed().as_micros() as u32);
                if answer.status >= 500 {
                    stats.server_errors += 1;
                }
                match check(&planned, &answer, stats) {
                    Ok(()) => stats.as_expected[planned.kind.index()] += 1,
                    Err(what) => {
                        stats.wrong += 1;
                        stats.note(what);
                    }
                }
                if answer.close || written.is_err() {
                    conn = None;
                }
            }
            Err(e) => {
                stats.connection_errors += 1;
                stats.note(format!("{:?}: {e} (write: {written:?})", planned.kind));
                conn = None;
            }
        }
    }
    measured.merge(Stats {
        // warm-up correctness still counts; only its timings and volumes are kept apart
        server_errors: warm.server_errors,
        connection_errors: warm.connection_errors,
        wrong: warm.wrong,
        examples: warm.examples,
        ..Stats::default()
    });
    measured
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

struct Server {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(wasmtime: &PathBuf, wasm: &PathBuf) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::env::temp_dir().join(format!("heart-soak-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("server log");
    let child = Command::new(wasmtime)
        .args(["serve", "-S", "cli=y", "--addr", &addr])
        .arg(wasm)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", wasmtime.display()));
    let mut server = Server { child, addr, log };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "wasmtime serve exited with {status}:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        if let Ok(s) = TcpStream::connect(&server.addr) {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            if w.write_all(&request("GET", "/health", None, b"")).is_ok()
                && read_answer(&mut r).is_ok_and(|a| a.status == 200)
            {
                return server;
            }
        }
        assert!(
            Instant::now() < deadline,
            "wasmtime serve never answered /health"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

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

/// (VmRSS, VmHWM) of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
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

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    let cfg = Config {
        seconds: env_num("SOAK_SECONDS", 60),
        warmup: env_num("SOAK_WARMUP_SECONDS", 60),
        concurrency: env_num("SOAK_CONCURRENCY", 64),
        pct_batch: env_num("SOAK_PCT_BATCH", 10),
        pct_invalid: env_num("SOAK_PCT_INVALID", 20),
        pct_oversized: env_num("SOAK_PCT_OVERSIZED", 5),
        max_rss_growth_pct: env_num("SOAK_MAX_RSS_GROWTH_PCT", 10) as f64,
    };
    assert!(cfg.pct_batch + cfg.pct_invalid + cfg.pct_oversized <= 100);
    assert!(
        cfg.seconds <= 600 && cfg.warmup <= 120 && cfg.concurrency <= 256,
        "the soak is bounded: at most 600 s, 120 s of warm-up, 256 connections"
    );
    let wasmtime = env_path("WASMTIME");
    let wasm = env_path("HEART_WASM");
    let server = start_server(&wasmtime, &wasm);
    let pid = server.child.id();
    eprintln!(
        "soak: {} workers, {} s warm-up + {} s against {} (pid {pid})",
        cfg.concurrency, cfg.warmup, cfg.seconds, server.addr
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
    for w in workers {
        stats.merge(w.join().expect("a worker panicked"));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (rss_idle, _) = rss_kib(pid);
    let mut server = server;
    let exit = server.child.try_wait();
    let server_alive = matches!(exit, Ok(None));
    let log = server.log.clone();
    drop(server);
    if server_alive {
        let _ = std::fs::remove_file(&log);
    } else {
        eprintln!(
            "soak: the server exited during the run; its log: {}",
            log.display()
        );
    }

    stats.latencies_us.sort_unstable();
    let total: u64 = stats.sent.iter().sum();
    let growth = (rss_end as f64 / rss_warm as f64 - 1.0) * 100.0;
    let every_kind_ran = stats.sent.iter().all(|n| *n > 0);
    let all_expected = stats.sent == stats.as_expected;
    let pass = stats.server_errors == 0
        && stats.connection_errors == 0
        && stats.wrong == 0
        && all_expected
        && every_kind_ran
        && server_alive
        && growth <= cfg.max_rss_growth_pct;

    let mut md = String::new();
    md.push_str("## Soak (`make soak`)\n\n");
    md.push_str(&format!(
        "Written by `make soak` (bench/soak) on {} UTC, {}; load average at the end {}.\n\n",
        shell("date", &["-u", "+%Y-%m-%d %H:%M"]),
        shell(wasmtime.to_str().unwrap(), &["--version"]),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    ));
    md.push_str(&format!(
        "{} s of warm-up, then {} s measured, at concurrency {} (one keep-alive connection per worker; \
         reconnecting after each refused oversized body) against `wasmtime serve` on 127.0.0.1, \
         client and server sharing the machine's 2 cores. Every answer's status is checked; every \
         prediction is compared with the host model core on the same body (|Δp| ≤ 1e-12 and the \
         same 0/1 prediction). Counts below are for the measured {} s.\n\n",
        cfg.warmup, cfg.seconds, cfg.concurrency, cfg.seconds
    ));
    md.push_str(
        "| request | expected | sent | answered as expected |\n| --- | --- | ---: | ---: |\n",
    );
    for k in KINDS {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            k.describe(),
            k.expected_status(),
            stats.sent[k.index()],
            stats.as_expected[k.index()]
        ));
    }
    md.push_str(&format!(
        "\n- **{} requests** in {:.0} s: {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms\n",
        total,
        measured_secs,
        total as f64 / measured_secs,
        percentile(&stats.latencies_us, 0.5),
        percentile(&stats.latencies_us, 0.99),
        percentile(&stats.latencies_us, 1.0),
    ));
    md.push_str(&format!(
        "- 5xx: **{}**; connection errors: **{}**; wrong answers: **{}** (warm-up included); predictions checked against the host model: **{}**\n",
        stats.server_errors, stats.connection_errors, stats.wrong, stats.predictions_checked
    ));
    md.push_str(&format!(
        "- server RSS (median of the last {RSS_WINDOW} once-a-second readings): {} at the end of warm-up, {} at the end (**{:+.1} %**, limit +{} %); last reading {}, peak (VmHWM) {}, {} after 1 s idle\n",
        mib(rss_warm),
        mib(rss_end),
        growth,
        cfg.max_rss_growth_pct,
        mib(rss_last),
        mib(hwm),
        mib(rss_idle)
    ));
    let series: Vec<String> = samples
        .iter()
        .step_by(5)
        .map(|(t, kib)| format!("{t:.0} s {:.1}", *kib as f64 / 1024.0))
        .collect();
    md.push_str(&format!("- RSS every 5 s (MiB): {}\n", series.join(", ")));
    md.push_str(&format!(
        "- verdict: **{}**\n",
        if pass { "pass" } else { "FAIL" }
    ));
    for e in &stats.examples {
        md.push_str(&format!("  - {e}\n"));
    }
    println!("{md}");

    if let Some(path) = std::env::var_os("SOAK_RESULTS").map(PathBuf::from) {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let section = format!("{BEGIN}\n{md}{END}");
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{section}{}", &old[..b], &old[e + END.len()..])
            }
            _ if old.is_empty() => format!("# Benchmark results\n\n{section}\n"),
            _ => format!("{}\n{section}\n", old.trim_end()),
        };
        std::fs::write(&path, new).expect("write the results");
        eprintln!("soak: results written to {}", path.display());
    }
    if !pass {
        eprintln!("soak: FAILED");
        std::process::exit(1);
    }
}
