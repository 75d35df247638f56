//! The served tests' harness: one trial per check per runtime (`RUNTIME::CHECK`), run by
//! libtest-mimic so that a runtime this machine cannot run is **reported**, not passed.
//!
//! Spin and containerd-shim-spin are in no package registry. Where one of the programs a
//! runtime needs is missing (`tests/runtimes.py RUNTIME --not-run` says which), each of its
//! trials ends as `ignored (spin not run: `spin` is not on PATH: …)`, and the summary counts it
//! as ignored. Everything else a runtime needs comes from `make deps`; its absence fails.
//!
//! One server per runtime serves all of that runtime's checks, one check at a time (a check
//! may read the server's log, so two at once would see each other's lines); different runtimes
//! run side by side. The server starts with the runtime's first trial and stops after its last.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::{repo, Runtime, Server};

/// A check of the served component: panics (an `assert!`) when the server answers wrongly.
pub type Check = fn(&Server);

/// Why `runtime` cannot run on this machine (the programs it lacks and how to install them),
/// or None when it can: `tests/runtimes.py`, the one place that knows what each runtime needs.
pub fn not_run(runtime: Runtime) -> Option<String> {
    let out = Command::new("python3")
        .arg(repo().join("tests/runtimes.py"))
        .args([runtime.name(), "--not-run"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/runtimes.py (python3): {e}"));
    match out.status.code() {
        Some(0) => None,
        Some(3) => Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        _ => panic!(
            "tests/runtimes.py {} --not-run failed: {}",
            runtime.name(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A test that needs no runtime (the host side, through `respond()`), as a trial.
pub fn native(name: &'static str, test: fn()) -> Trial {
    Trial::test(name, move || outcome(test))
}

/// Runs `checks` on each of `runtimes` (and the `native` trials) under libtest's command line
/// (`cargo test -p heart-served -- FILTER` selects by name, `--list` lists). The trials are
/// ordered check by check, so that the threads take different runtimes at once.
pub fn run(runtimes: &[Runtime], checks: &[(&'static str, Check)], native: Vec<Trial>) -> ExitCode {
    let mut trials = native;
    let served: Vec<(Runtime, Result<Arc<Shared>, String>)> = runtimes
        .iter()
        .map(|&runtime| {
            let state = match not_run(runtime) {
                None => Ok(Arc::new(Shared {
                    runtime,
                    server: Mutex::new(None),
                })),
                Some(why) => Err(format!("{} not run: {why}", runtime.name())),
            };
            (runtime, state)
        })
        .collect();
    for &(check_name, check) in checks {
        for (runtime, state) in &served {
            let name = format!("{}::{check_name}", runtime.name());
            trials.push(match state {
                Ok(shared) => {
                    let shared = Arc::clone(shared);
                    Trial::test(name, move || shared.check(check))
                }
                Err(why) => {
                    let why = why.clone();
                    Trial::ignorable_test(name, move || Ok(Completion::ignored_with(why)))
                }
            });
        }
    }
    drop(served);
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

/// A runtime's server, started by its first check and stopped when the last check's trial
/// (the last holder of the `Arc`) is done.
struct Shared {
    runtime: Runtime,
    server: Mutex<Option<Result<Server, String>>>,
}

impl Shared {
    fn check(&self, check: Check) -> Result<(), Failed> {
        // A failed check poisons the lock; the server itself is still good for the next one.
        let mut slot = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let server = slot.get_or_insert_with(|| {
            catch_unwind(|| Server::start(self.runtime)).map_err(|e| panic_text(&*e))
        });
        match server {
            Ok(server) => outcome(|| check(server)),
            Err(why) => Err(format!("{} did not start: {why}", self.runtime.name()).into()),
        }
    }
}

fn outcome(f: impl FnOnce()) -> Result<(), Failed> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| panic_text(&*e).into())
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}
