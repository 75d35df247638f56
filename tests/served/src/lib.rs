//! The served side's one harness: the real release `.wasm` served by real runtimes, and a
//! small HTTP/1.1 client that can send anything (wrong headers, endless bodies) and read
//! anything back.
//!
//! - [`Server`] starts one runtime ([`Runtime`]) through `tests/runtimes.py`, the one place
//!   that knows how each host starts, is known to be ready and stops, and stops it when
//!   dropped. It knows the address, the serving process's pid and the sha256 of what it
//!   serves, and keeps the runtime's log.
//! - [`try_send`] sends one [`Req`] on a fresh connection and reads the [`Resp`];
//!   [`read_response`] reads one response off any reader, for keep-alive connections and raw
//!   sockets.
//!
//! Its users: the tests of this package (`tests/`: every runtime, the body limits, the
//! component's imports and its typed export), the soak (`bench/soak`, `make soak`).
//! They need the release build (`make build`, or `$HEART_WASM`) and the runtimes; the
//! host-side tests at the top (`cargo test` there) need neither.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod trials;

/// The repository's top (this package is `tests/served/` in it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository's top")
}

/// The wasi:http 0.2 release build: `$HEART_WASM`, or the default build output.
pub fn wasm() -> PathBuf {
    built("HEART_WASM", "target/heart_disease_api.wasm")
}

/// The wasi:http 0.3 release build (crates/edge-p3): `$HEART_WASM_P3`, or the default build
/// output.
pub fn wasm_p3() -> PathBuf {
    built("HEART_WASM_P3", "target/heart_disease_api_p3.wasm")
}

fn built(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(default));
    assert!(
        path.exists(),
        "{} is missing: build it with `make build` (or run `make test`)",
        path.display()
    );
    path
}

/// The jco CLI installed by `npm ci` (package-lock.json pins it).
pub fn jco() -> PathBuf {
    let path = repo().join("node_modules/.bin/jco");
    assert!(
        path.exists(),
        "jco is not installed: run `make deps` (npm ci)"
    );
    path
}

/// Which host serves the component. `tests/runtimes.py` knows how each one starts, is ready
/// and stops; the names here are its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `wasmtime serve -S cli=y`: the runtime Spin and the SpinKube shim embed.
    Wasmtime,
    /// `jco serve`: the component transpiled to JavaScript, on Node.js.
    Jco,
    /// `spin up` on the project's own spin.toml (Spin 3.6 or 4.0).
    Spin,
    /// `spin up` on spin-p3.toml: the wasi:http 0.3 build, on Spin 4.
    SpinP3,
    /// `spin registry push` to a loopback registry, then `spin up --from` that reference.
    SpinOci,
    /// The same artifact pulled by a private containerd and run by containerd-shim-spin,
    /// SpinKube's node runtime.
    Shim,
    /// The wasi:http 0.3 build's artifact on containerd-shim-spin v0.25 or newer.
    ShimP3,
    /// `workerd serve` (Cloudflare's Workers runtime) on the worker `edge/build.mjs` builds:
    /// the component transpiled by jco, answering through its own wasi:http handler.
    Workerd,
}

impl Runtime {
    /// Every runtime, in `tests/runtimes.py`'s order.
    pub const ALL: [Runtime; 8] = [
        Runtime::Wasmtime,
        Runtime::Jco,
        Runtime::Spin,
        Runtime::SpinP3,
        Runtime::SpinOci,
        Runtime::Shim,
        Runtime::ShimP3,
        Runtime::Workerd,
    ];

    /// Its name for `tests/runtimes.py`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Wasmtime => "wasmtime",
            Runtime::Jco => "jco",
            Runtime::Spin => "spin",
            Runtime::SpinP3 => "spin-p3",
            Runtime::SpinOci => "spin-oci",
            Runtime::Shim => "shim",
            Runtime::ShimP3 => "shim-p3",
            Runtime::Workerd => "workerd",
        }
    }

    /// Whether it serves the wasi:http 0.3 build ([`wasm_p3`]) rather than the 0.2 one.
    pub fn serves_p3(self) -> bool {
        matches!(self, Runtime::SpinP3 | Runtime::ShimP3)
    }

    /// The build it serves.
    pub fn wasm(self) -> PathBuf {
        if self.serves_p3() {
            wasm_p3()
        } else {
            wasm()
        }
    }

    /// The runtime of that name, if any.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// How long the launcher gets to stop what it started after SIGTERM (it gives each process
/// 15 s) before its whole process group is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// A runtime serving the component on 127.0.0.1 through `tests/runtimes.py`; stopped (with
/// everything it started: registry, containerd, container) when dropped.
pub struct Server {
    pub runtime: Runtime,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The serving process, from the launcher's ready line (wasmtime; for Spin, `spin up`,
    /// which serves from a child `spin trigger http`): for its RSS, its version.
    pub pid: u32,
    /// The sha256 (hex) of the `.wasm` it serves, checked against the file it was given.
    pub sha256: String,
    launcher: Child,
    log: PathBuf,
    keep_log: bool,
}

impl Server {
    /// Serves the runtime's build ([`Runtime::wasm`]) on `runtime`; panics with the
    /// launcher's reason if it cannot.
    pub fn start(runtime: Runtime) -> Server {
        Self::start_with(runtime, &runtime.wasm())
    }

    /// Serves `wasm` on `runtime`; panics with the launcher's reason if it cannot.
    pub fn start_with(runtime: Runtime, wasm: &Path) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!(
            "heart-{}-{port}-{}.log",
            runtime.name(),
            std::process::id()
        ));
        let launcher_err = log.with_extension("launcher.log");
        let err = std::fs::File::create(&launcher_err).expect("create the launcher log");
        let mut launcher = Command::new("python3")
            .arg(repo().join("tests/runtimes.py"))
            .args([runtime.name(), "--addr", &addr, "--log"])
            .arg(&log)
            .arg("--wasm")
            .arg(wasm)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tests/runtimes.py (python3): {e}"));
        // The launcher prints one `ready URL pid=PID sha256:HEX` line once /health answers
        // 200, or exits with the reason on stderr.
        let mut line = String::new();
        let _ = BufReader::new(launcher.stdout.take().expect("piped stdout")).read_line(&mut line);
        let why = std::fs::read_to_string(&launcher_err).unwrap_or_default();
        let _ = std::fs::remove_file(&launcher_err);
        let words: Vec<&str> = line.split_whitespace().collect();
        let ready = match words.as_slice() {
            ["ready", url, pid, sha] if *url == format!("http://{addr}") => pid
                .strip_prefix("pid=")
                .and_then(|p| p.parse::<u32>().ok())
                .zip(sha.strip_prefix("sha256:")),
            _ => None,
        };
        let Some((pid, sha256)) = ready else {
            // It says why on stderr and stops what it started; SIGTERM in case it has not.
            let _ = Command::new("kill")
                .args(["-TERM", &launcher.id().to_string()])
                .status();
            let status = launcher.wait();
            let served = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            panic!(
                "{} did not start (the launcher said {line:?}, then {status:?}):\n{why}\n\
                 its log:\n{served}",
                runtime.name()
            );
        };
        let sha256 = sha256.to_string();
        let server = Server {
            runtime,
            addr,
            pid,
            sha256,
            launcher,
            log,
            keep_log: false,
        };
        assert_eq!(
            server.sha256,
            sha256_hex(&std::fs::read(wasm).expect("read the .wasm")),
            "{} serves another .wasm",
            runtime.name()
        );
        server
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where the server's log is; deleted when the server is dropped, unless
    /// [`Server::keep_log`] was called.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Keeps the log file once the server is dropped (to look at after a failure).
    pub fn keep_log(&mut self) {
        self.keep_log = true;
    }

    /// The log once it mentions `needle` (a host may flush a component's stderr a moment
    /// after the response); fails with the log after 30 s.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{:?}: {needle} never appeared in the log:\n{log}",
                self.runtime
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the launcher runs and the serving process exists.
    pub fn alive(&mut self) -> bool {
        matches!(self.launcher.try_wait(), Ok(None))
            && Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    /// Stops the runtime: SIGTERM to the launcher, which stops what it started in order. Its
    /// exit status (0 when everything stopped cleanly), or None if it has not finished
    /// within 60 s (then dropping the server kills its process group).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.launcher.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.launcher.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.launcher.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends `req` on a fresh connection ([`try_send`]); panics if no answer comes.
    pub fn send(&self, req: &Req) -> Resp {
        try_send(&self.addr, req)
            .unwrap_or_else(|e| panic!("{:?}: {} {}: {e}", self.runtime, req.method, req.path))
    }

    /// `POST path` with `body` as `application/json`.
    pub fn post_json(&self, path: &str, body: &str) -> Resp {
        self.send(
            &Req::post(path, body.as_bytes().to_vec()).header("content-type", "application/json"),
        )
    }
}

impl Drop for Server {
    /// [`Server::stop`], then SIGKILL to the launcher's process group (whatever of it is
    /// left), and the log deleted unless kept.
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.launcher.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.launcher.wait();
        if !self.keep_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The sha256 of `bytes` in lower-case hex (sha256sum's digest), for comparing what each
/// runtime serves.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum (coreutils)");
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// A port free on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How the body goes on the wire.
#[derive(Debug, Clone)]
pub enum Body {
    /// With a `Content-Length` header.
    Sized(Vec<u8>),
    /// `Transfer-Encoding: chunked`, `chunks` chunks of `chunk` bytes each: a client that
    /// streams without declaring a length.
    Chunked { chunk: Vec<u8>, chunks: usize },
}

/// Every path a GET answers, and three it refuses (a missing figure, another model, an unknown
/// path): the routes the HEAD check and the two builds' comparison walk.
pub fn get_paths() -> Vec<String> {
    let model = "/v2/models/heart-disease";
    let version = format!("{model}/versions/{}", heart_model::MODEL_VERSION);
    vec![
        "/health".to_string(),
        "/model".into(),
        "/model/figures/roc.svg".into(),
        "/model/figures/none.svg".into(),
        "/openapi.json".into(),
        "/docs".into(),
        "/v2".into(),
        "/v2/health/live".into(),
        "/v2/health/ready".into(),
        model.into(),
        format!("{model}/ready"),
        version.clone(),
        format!("{version}/ready"),
        "/v2/models/other".into(),
        "/nowhere".into(),
    ]
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            headers: vec![],
            body: Body::Sized(vec![]),
        }
    }

    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }

    pub fn post(path: &str, body: Vec<u8>) -> Req {
        Req {
            body: Body::Sized(body),
            ..Req::new("POST", path)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: Body) -> Req {
        self.body = body;
        self
    }
}

/// A response as received: its status, its headers (names lower-cased) in order, and its
/// body (de-chunked).
#[derive(Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resp")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Resp {
    /// Every header but the host's own `date`, sorted: what two answers to the same request
    /// share, whichever host or build gave them.
    pub fn comparable_headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| k != "date")
            .cloned()
            .collect();
        headers.sort();
        headers
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body of an error answer: `application/problem+json` whose `status` is the
    /// answer's; panics otherwise.
    pub fn problem(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["status"], self.status, "{v}");
        v
    }

    /// True when the connection may carry another request after this answer: it was framed
    /// (`content-length` or chunked, so its end was known without the connection closing)
    /// and does not say `connection: close`.
    pub fn keeps_alive(&self) -> bool {
        let close = self
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        !close && (self.header("content-length").is_some() || self.chunked())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// `bytes` as one chunk of a chunked body (RFC 9112 §7.1): size in hex, CRLF, data, CRLF.
pub fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

/// The chunk that ends a chunked body, with no trailer fields.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Sends one request on a fresh connection (`Connection: close`) and reads the answer, then
/// the connection to its end, as a browser or curl does: bytes after the answer are a body
/// sent to a HEAD (added to [`Resp::body`], where a test sees them) or else an error. A server
/// may answer and close before a long body is sent; the answer still counts.
///
/// (Reading to the end matters: `jco serve` 1.x stops answering anyone once a client has
/// closed its connection before reading a large answer to its end.)
pub fn try_send(addr: &str, req: &Req) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match &req.body {
        Body::Sized(b) => head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len())),
        Body::Chunked { .. } => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    stream.write_all(head.as_bytes())?;
    // Body write errors are expected when the server refuses early and closes: read on.
    let _ = match &req.body {
        Body::Sized(b) => stream.write_all(b),
        Body::Chunked {
            chunk: bytes,
            chunks,
        } => (|| {
            let one = chunk(bytes);
            for _ in 0..*chunks {
                stream.write_all(&one)?;
            }
            stream.write_all(LAST_CHUNK)
        })(),
    };
    let head_request = req.method == "HEAD";
    let mut reader = BufReader::new(stream);
    let mut resp = read_response(&mut reader, head_request)?;
    let mut after = Vec::new();
    // A reset once the answer is in (the server closed with our input unread) is fine.
    let _ = reader.read_to_end(&mut after);
    if head_request {
        resp.body = after;
    } else if !after.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} bytes after the answer: {:?}",
                after.len(),
                String::from_utf8_lossy(&after[..after.len().min(200)])
            ),
        ));
    }
    Ok(resp)
}

/// Reads one response from `reader` (a connection, kept alive or not) and no more: up to the
/// end its `content-length` or chunked framing gives, else to the end of the connection. The
/// answer to a HEAD (`head_request`) has no body, whatever its `content-length` says. Fails
/// with `UnexpectedEof` if the connection ends before the response does, and with the read's
/// error (a timeout: `WouldBlock`/`TimedOut`) if it stops coming.
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> std::io::Result<Resp> {
    use std::io::{Error, ErrorKind};
    let bad = |m: String| Error::new(ErrorKind::InvalidData, m);
    let eof = |m: &str| Error::new(ErrorKind::UnexpectedEof, m.to_string());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(eof("closed before an answer"));
    }
    let status: u16 = line
        .strip_prefix("HTTP/1.")
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(eof("closed in the answer's headers"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("header {l:?}")))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    let length = match resp.header("content-length") {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| bad(format!("content-length {n:?}")))?,
        ),
        None => None,
    };
    let chunked = resp.chunked();
    let body = &mut resp.body;
    if head_request || matches!(status, 100..=199 | 204 | 304) {
        // No body follows (RFC 9110 §9.3.2, §6.4.1), even with content-length or chunked.
    } else if chunked {
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(eof("closed in the chunked body"));
            }
            let size_text = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad(format!("chunk size {line:?}")))?;
            if size == 0 {
                // Trailer fields, if any, up to the empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
            if &crlf != b"\r\n" {
                return Err(bad("no CRLF after a chunk".into()));
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(body)?;
    } else {
        reader.read_to_end(body)?;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &[u8], head: bool) -> std::io::Result<Resp> {
        read_response(&mut BufReader::new(raw), head)
    }

    #[test]
    fn reads_sized_chunked_and_unframed_answers() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut reader = BufReader::new(&two[..]);
        let first = read_response(&mut reader, false).unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "hi"));
        assert_eq!(first.header("x-a"), Some("b"));
        assert!(first.keeps_alive());
        assert_eq!(read_response(&mut reader, false).unwrap().status, 404);

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n1\r\nd\r\n0\r\nT: 1\r\n\r\n";
        let r = read(chunked, false).unwrap();
        assert_eq!(r.text(), "abcd");
        assert!(r.keeps_alive());

        let unframed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end";
        let r = read(unframed, false).unwrap();
        assert_eq!(r.text(), "to the end");
        assert!(!r.keeps_alive());

        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
        assert!(read(head, true).unwrap().body.is_empty());
    }

    #[test]
    fn cut_answers_are_errors() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"garbage\r\n\r\n",
        ] {
            assert!(
                read(raw, false).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn runtime_names_round_trip() {
        for r in Runtime::ALL {
            assert_eq!(Runtime::from_name(r.name()), Some(r));
        }
        assert_eq!(Runtime::from_name("nope"), None);
    }
}
