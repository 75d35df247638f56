//! Runs the `remap` transform of a Vector configuration on container log lines, with the real
//! VRL engine (the `vrl` crate, which Vector's `remap` transform runs), as Vector would:
//!
//!     vrl-check CONFIG.yaml TRANSFORM [--namespace NS] [--pod NAME] < lines
//!
//! The program is read from `transforms.TRANSFORM.source` of CONFIG.yaml itself, with its
//! `drop_on_abort` and `drop_on_error` settings (Vector's defaults: true and false). Each
//! line of stdin is one container log line: it becomes the `message` of an event shaped as
//! Vector's `kubernetes_logs` source emits it (legacy log namespace: `message`, `timestamp`,
//! `stream`, `source_type`, `file`, and `kubernetes.*` with the pod's labels, which carry
//! `app.kubernetes.io/name=heart-disease-api`, the label the chart puts on the app's pods).
//!
//! Prints one JSON object per input line, in order:
//!
//!     {"line": N, "outcome": "emitted", "event": {…}}        the event Vector passes on
//!     {"line": N, "outcome": "dropped", "reason": "abort"|"error", "error": "…"}
//!     {"line": N, "outcome": "passed_unmodified", "error": "…", "event": {…}}
//!
//! (the last when the program errs and `drop_on_error` is false: Vector then forwards the
//! original event). Exit status 0, or 2 when the configuration or the program is invalid.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use serde_json::json;
use vrl::compiler::runtime::{Runtime, Terminate};
use vrl::compiler::{compile, TargetValue, TimeZone};
use vrl::diagnostic::Formatter;
use vrl::value::{Secrets, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The labels the chart puts on the app's pods (helm/heart-disease-api/templates/_helpers.tpl,
/// "heart-disease-api.labels", applied through the SpinApp's podLabels).
const APP: &str = "heart-disease-api";

struct Remap {
    source: String,
    drop_on_abort: bool,
    drop_on_error: bool,
}

fn load(config: &str, transform: &str) -> Result<Remap, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{config}: {e}"))?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("{config}: {e}"))?;
    let doc = docs.first().ok_or_else(|| format!("{config}: empty"))?;
    let t = &doc["transforms"][transform];
    if t.is_badvalue() {
        return Err(format!("{config}: no transforms.{transform}"));
    }
    if t["type"].as_str() != Some("remap") {
        return Err(format!(
            "{config}: transforms.{transform} is not of type remap"
        ));
    }
    let source = t["source"]
        .as_str()
        .ok_or_else(|| format!("{config}: transforms.{transform}.source is not a string"))?
        .to_string();
    let flag = |key: &str, default: bool| match &t[key] {
        Yaml::BadValue => Ok(default),
        Yaml::Boolean(b) => Ok(*b),
        other => Err(format!(
            "{config}: transforms.{transform}.{key} is not a boolean: {other:?}"
        )),
    };
    Ok(Remap {
        source,
        drop_on_abort: flag("drop_on_abort", true)?,
        drop_on_error: flag("drop_on_error", false)?,
    })
}

/// The event `kubernetes_logs` makes of one container log line (Vector's legacy namespace).
fn kubernetes_event(line: &str, namespace: &str, pod: &str) -> Value {
    let uid = "00000000-0000-4000-8000-000000000000";
    let mut event = Value::from(json!({
        "message": line,
        "stream": "stderr",
        "source_type": "kubernetes_logs",
        "file": format!("/var/log/pods/{namespace}_{pod}_{uid}/{APP}/0.log"),
        "kubernetes": {
            "container_name": APP,
            "container_image": format!("registry.example/{APP}:test"),
            "pod_name": pod,
            "pod_namespace": namespace,
            "pod_uid": uid,
            "pod_node_name": "node-1",
            "pod_ip": "10.0.0.7",
            "pod_labels": {
                "app.kubernetes.io/name": APP,
                "app.kubernetes.io/instance": "heart",
                "app.kubernetes.io/managed-by": "Helm",
                "core.spinkube.dev/app-name": "heart-heart-disease-api",
            },
        },
    }));
    if let Value::Object(fields) = &mut event {
        fields.insert("timestamp".into(), Value::Timestamp(chrono::Utc::now()));
    }
    event
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(config), Some(transform)) = (args.next(), args.next()) else {
        eprintln!("usage: vrl-check CONFIG.yaml TRANSFORM [--namespace NS] [--pod NAME] < lines");
        return ExitCode::from(2);
    };
    let (mut namespace, mut pod) = ("default".to_string(), format!("{APP}-7d9f8b6c5-x2x4q"));
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--namespace", Some(v)) => namespace = v,
            ("--pod", Some(v)) => pod = v,
            _ => {
                eprintln!("vrl-check: unexpected argument {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let remap = match load(&config, &transform) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vrl-check: {e}");
            return ExitCode::from(2);
        }
    };
    let functions = vrl::stdlib::all();
    let program = match compile(&remap.source, &functions) {
        Ok(result) => {
            if !result.warnings.is_empty() {
                eprintln!("{}", Formatter::new(&remap.source, result.warnings));
            }
            result.program
        }
        Err(diagnostics) => {
            eprintln!("vrl-check: transforms.{transform}.source does not compile:");
            eprintln!("{}", Formatter::new(&remap.source, diagnostics));
            return ExitCode::from(2);
        }
    };

    let timezone = TimeZone::default();
    let mut runtime = Runtime::default();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (n, line) in io::stdin().lock().lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("vrl-check: stdin: {e}");
                return ExitCode::from(2);
            }
        };
        let original = kubernetes_event(&line, &namespace, &pod);
        let mut target = TargetValue {
            value: original.clone(),
            metadata: Value::Object(BTreeMap::new()),
            secrets: Secrets::default(),
        };
        let result = runtime.resolve(&mut target, &program, &timezone);
        runtime.clear();
        let record = match result {
            Ok(_) => json!({"line": n + 1, "outcome": "emitted", "event": target.value}),
            Err(Terminate::Abort(e)) if remap.drop_on_abort => {
                json!({"line": n + 1, "outcome": "dropped", "reason": "abort", "error": e.to_string()})
            }
            Err(Terminate::Error(e)) if remap.drop_on_error => {
                json!({"line": n + 1, "outcome": "dropped", "reason": "error", "error": e.to_string()})
            }
            // Vector forwards the event as it came in when it is not told to drop it.
            Err(e) => json!({"line": n + 1, "outcome": "passed_unmodified", "error": e.to_string(),
                             "event": original}),
        };
        if writeln!(out, "{record}").is_err() {
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
