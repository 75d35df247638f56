//! Serving the real release `.wasm` in real runtimes, and a small HTTP/1.1 client that can send
//! anything (wrong headers, endless bodies) and read anything back.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's top.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The release component under test: `$HEART_WASM`, or the default build output.
pub fn wasm() -> PathBuf {
    let path = std::env::var_os("HEART_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/heart_disease_api.wasm"));
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
    /// `spin up` on the project's own spin.toml (Spin 3.6, as the SpinKube shim embeds).
    Spin,
    /// `spin registry push` to a loopback registry, then `spin up --from` that reference.
    SpinOci,
    /// The same artifact pulled by a private containerd and run by containerd-shim-spin,
    /// SpinKube's node runtime.
    Shim,
    /// `workerd serve` (Cloudflare's Workers runtime) on the worker `edge/build.mjs` builds:
    /// the component transpiled by jco, answering through its own wasi:http handler.
    Workerd,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Wasmtime => "wasmtime",
            Runtime::Jco => "jco",
            Runtime::Spin => "spin",
            Runtime::SpinOci => "spin-oci",
            Runtime::Shim => "shim",
            Runtime::Workerd => "workerd",
        }
    }

    /// True when `HEART_SKIP_RUNTIMES` (comma-separated names; `spin` covers `spin-oci`)
    /// leaves this runtime out: the explicit opt-out for machines without Spin or the shim.
    /// A runtime that is neither installed nor skipped fails its tests with install advice.
    pub fn skipped(self) -> bool {
        let names = std::env::var("HEART_SKIP_RUNTIMES").unwrap_or_default();
        let skip: Vec<&str> = names.split(',').map(str::trim).collect();
        let skipped =
            skip.contains(&self.name()) || (self == Runtime::SpinOci && skip.contains(&"spin"));
        if skipped {
            eprintln!("{}: left out (HEART_SKIP_RUNTIMES={names})", self.name());
        }
        skipped
    }
}

/// A runtime serving the component on 127.0.0.1 through `tests/runtimes.py`; stopped (with
/// everything it started: registry, containerd, container) when dropped.
pub struct Server {
    pub runtime: Runtime,
    pub addr: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    pub fn start(runtime: Runtime) -> Server {
        Self::start_with(runtime, &wasm())
    }

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
        let mut child = Command::new("python3")
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
        // The launcher prints one `ready URL sha256:HEX` line once /health answers 200, or
        // exits with the reason on stderr.
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let why = std::fs::read_to_string(&launcher_err).unwrap_or_default();
        let _ = std::fs::remove_file(&launcher_err);
        if !line.starts_with("ready ") {
            let _ = child.wait();
            panic!("{} did not start:\n{why}", runtime.name());
        }
        let served = line.trim().rsplit("sha256:").next().unwrap_or_default();
        assert_eq!(
            served,
            sha256_hex(&std::fs::read(wasm).expect("read the .wasm")),
            "{} serves another .wasm",
            runtime.name()
        );
        Server {
            runtime,
            addr,
            child,
            log,
        }
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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

    pub fn send(&self, req: &Req) -> Resp {
        try_send(&self.addr, req)
            .unwrap_or_else(|e| panic!("{:?}: {} {}: {e}", self.runtime, req.method, req.path))
    }

    pub fn post_json(&self, path: &str, body: &str) -> Resp {
        self.send(
            &Req::post(path, body.as_bytes().to_vec()).header("content-type", "application/json"),
        )
    }
}

impl Drop for Server {
    /// SIGTERM to the launcher, which stops what it started in order; SIGKILL to its group if
    /// it has not finished within 60 s.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
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

fn free_port() -> u16 {
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

/// A response as received.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
/// A server may answer and close before a long body is sent; the answer still counts.
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
        Body::Chunked { chunk, chunks } => (|| {
            for _ in 0..*chunks {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                stream.write_all(chunk)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")
        })(),
    };
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // A reset after the answer arrived (server closed with unread input) is fine.
        if raw.is_empty() {
            return Err(e);
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(status_line))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
