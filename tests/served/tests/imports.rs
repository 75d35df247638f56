//! Both builds ask their host for nothing beyond HTTP, streams, CLI basics, randomness and
//! clocks: no filesystem, no sockets, no Spin-only interfaces, so every wasi:http 0.2 host
//! (Spin, the SpinKube shim, wasmtime serve, jco) can run the 0.2 build, and Spin 4 and the
//! v0.25 shim the 0.3 build.

use std::path::Path;
use std::process::Command;

const ALLOWED: [&str; 5] = [
    "wasi:http/",
    "wasi:io/",
    "wasi:cli/",
    "wasi:random/",
    "wasi:clocks/",
];

fn world(wasm: &Path) -> String {
    let out = Command::new(heart_served::jco())
        .arg("wit")
        .arg(wasm)
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

fn imports_only_http_io_cli_random_clocks(wasm: &Path) {
    let wit = world(wasm);
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
fn the_0_2_build_imports_only_http_io_cli_random_clocks() {
    imports_only_http_io_cli_random_clocks(&heart_served::wasm());
}

#[test]
fn the_0_3_build_imports_only_http_io_cli_random_clocks() {
    imports_only_http_io_cli_random_clocks(&heart_served::wasm_p3());
}

#[test]
fn the_0_2_build_exports_the_wasi_http_0_2_handler() {
    let wit = world(&heart_served::wasm());
    assert!(
        items(&wit, "export ").contains(&"wasi:http/incoming-handler@0.2.0"),
        "{wit}"
    );
}

/// The handler of the release candidate Spin 4.0 and containerd-shim-spin v0.25 load
/// (spin-sdk 6.0.0); the final 0.3.0 (spin-sdk 7) does not load there.
#[test]
fn the_0_3_build_exports_the_wasi_http_0_3_rc_handler() {
    let wit = world(&heart_served::wasm_p3());
    assert_eq!(
        items(&wit, "export "),
        ["wasi:http/handler@0.3.0-rc-2026-03-15"],
        "{wit}"
    );
}
