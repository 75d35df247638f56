//! The component asks its host for nothing beyond HTTP, streams, CLI basics, randomness and
//! clocks: no filesystem, no sockets, no Spin-only interfaces, so every wasi:http 0.2 host
//! (Spin, the SpinKube shim, wasmtime serve, jco) can run it.

use std::process::Command;

const ALLOWED: [&str; 5] = [
    "wasi:http/",
    "wasi:io/",
    "wasi:cli/",
    "wasi:random/",
    "wasi:clocks/",
];

fn world() -> String {
    let out = Command::new(heart_served::jco())
        .arg("wit")
        .arg(heart_served::wasm())
        .output()
        .expect("run jco wit");
    assert!(
        out.status.success(),
        "jco wit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 WIT")
}

fn items<'a>(wit: &'a str, keyword: &str) -> Vec<&'a str> {
    wit.lines()
        .filter_map(|l| l.trim().strip_prefix(keyword))
        .map(|l| l.trim_end_matches(';').trim())
        .collect()
}

#[test]
fn imports_only_http_io_cli_random_clocks() {
    let wit = world();
    let imports = items(&wit, "import ");
    assert!(!imports.is_empty(), "no imports found in:\n{wit}");
    let foreign: Vec<&&str> = imports
        .iter()
        .filter(|i| !ALLOWED.iter().any(|a| i.starts_with(a)))
        .collect();
    assert!(
        foreign.is_empty(),
        "unexpected imports {foreign:?} in:\n{wit}"
    );
}

#[test]
fn exports_the_wasi_http_0_2_handler() {
    let wit = world();
    assert!(
        items(&wit, "export ").contains(&"wasi:http/incoming-handler@0.2.0"),
        "{wit}"
    );
}
