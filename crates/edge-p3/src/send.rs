//! Handing a [`Response`] and the log line to the host, each on a wasi 0.3 stream.
//!
//! A stream is written only as its reader reads it, and the host reads the response's body
//! only after `handle` has returned the response; so the body is written by a task spawned
//! in the instance, which ends when the last byte is taken (or the client has gone).
//!
//! The log line goes to stderr in one write through wasi:cli 0.2's stderr, which the
//! component imports anyway (Rust's std on wasm32-wasip2 is built on it): one host call,
//! where wasi:cli 0.3's `write-via-stream` costs a stream, a task and a future per line. One
//! whole line per call, so the lines of concurrent requests never interleave.
//!
//! Every answer declares its `content-length`, and the answer to `HEAD` carries the `GET`
//! body, for the host to drop, as in the 0.2 edge.

use std::io::Write;

use heart_api::Response;
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Response as HostResponse};
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};

/// The host's response for `response`, its body on its way. An error only if the host
/// refuses a header (every header the service sets is plain ASCII).
pub fn response(response: Response) -> Result<HostResponse, ErrorCode> {
    let fields = Fields::from_list(&response.wire_headers())
        .map_err(|e| ErrorCode::InternalError(Some(format!("a response header: {e:?}"))))?;
    let status = response.status();
    let (mut writer, contents) = wit_stream::new::<u8>();
    // No trailers: the future's default, sent once the body task drops its end.
    let (trailers_end, trailers) = wit_future::new(|| Ok(None));
    let (host_response, _sent) = HostResponse::new(fields, Some(contents), trailers);
    // 200 is the default status: one call fewer for most answers.
    if status != 200 {
        host_response
            .set_status_code(status)
            .map_err(|()| ErrorCode::InternalError(Some(format!("status {status}"))))?;
    }
    let body = response.into_body();
    spawn(async move {
        // What is left unwritten when the client has gone is dropped with the task.
        let _ = writer.write_all(body).await;
        drop(writer);
        drop(trailers_end);
    });
    Ok(host_response)
}

/// Writes one whole log line (newline included) to stderr, in one call to the host (std's
/// stderr is unbuffered; a line is far below the 4096 bytes one call takes); nothing when it
/// is empty.
pub fn log_line(line: Vec<u8>) {
    if !line.is_empty() {
        let _ = std::io::stderr().write_all(&line);
    }
}
