//! The content of the one structured line per request, for operators: what was asked, how it
//! ended, how long it took. Never a patient's values: only the method, the path (without
//! query), the status, the batch size and ids.
//!
//! The line is built here and written by the edge (the component writes it to stderr in one
//! call to the host), so every host logs the same line and this crate needs no host.

use std::hash::{BuildHasher, Hasher};

use heart_wire::names::REQUEST_ID_HEADER;
use serde::Serialize;

use crate::http::{Method, Response};

/// A request being served; [`RequestLog::finish`] gives its line.
pub struct RequestLog {
    id: String,
    method: String,
    path: String,
    /// When the request arrived, in nanoseconds of the edge's monotonic clock.
    started: u64,
}

#[derive(Serialize)]
struct Line<'a> {
    event: &'static str,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    latency_ms: f64,
    batch_size: usize,
    model_version: &'static str,
}

impl RequestLog {
    /// `started` is when the request arrived (the edge's monotonic clock, in nanoseconds);
    /// `path` is the request's path, without the query ([`crate::Request::path`]).
    pub fn start(started: u64, method: &Method, path: &str, caller_id: Option<&str>) -> Self {
        let path: String = path.chars().take(200).collect();
        let id = caller_id
            .filter(|id| is_token(id))
            .map(str::to_string)
            .unwrap_or_else(new_id);
        RequestLog {
            id,
            method: method.to_string(),
            path,
            started,
        }
    }

    /// Stamps the request id on the response and returns the log line, newline included (empty
    /// if it could not be written); `now` is the same clock when the answer is ready.
    pub fn finish(self, response: &mut Response, now: u64) -> Vec<u8> {
        response.set_header(REQUEST_ID_HEADER, &self.id);
        let line = Line {
            event: "request",
            request_id: &self.id,
            method: &self.method,
            path: &self.path,
            status: response.status(),
            latency_ms: now.saturating_sub(self.started) as f64 / 1e6,
            batch_size: response.batch_size().unwrap_or(0),
            model_version: heart_model::MODEL_VERSION,
        };
        match serde_json::to_vec(&line) {
            Ok(mut json) => {
                json.push(b'\n');
                json
            }
            Err(_) => Vec::new(),
        }
    }
}

/// A caller's id is echoed only when it is short and made of `[A-Za-z0-9._-]`, so the log
/// cannot be used to smuggle text (or patient data) into a line.
fn is_token(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// 16 hex digits from the runtime's random seed (std's hasher keys come from the host's
/// randomness, so this needs no extra import).
fn new_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_kept_only_when_plain() {
        assert_eq!(
            RequestLog::start(0, &Method::Get, "/health", Some("abc-123")).id,
            "abc-123"
        );
        let id = RequestLog::start(0, &Method::Get, "/health", Some("{\"age\":63}")).id;
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn long_paths_are_cut() {
        let long = format!("/{}", "a".repeat(300));
        assert_eq!(
            RequestLog::start(0, &Method::Get, &long, None).path.len(),
            200
        );
    }
}
