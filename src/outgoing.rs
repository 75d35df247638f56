//! Hands a [`Response`] to the host with as few calls as possible: the headers in one list,
//! a small body in one `blocking-write-and-flush` (which takes at most 4096 bytes), a large
//! one (a batch's answer, up to ~480 KB) in writes as large as the host accepts, then one
//! flush.
//!
//! Every answer declares its `content-length`. The answer to a `HEAD` request is the `GET`
//! answer, body included: the host, which knows the request's method, sends the head only
//! (RFC 9110 §9.3.2), and a body shorter than the declared length would be an error to
//! wasi:http hosts (they check what is written against `content-length`).

use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::{OutputStream, StreamError};

use crate::http::Response;

/// The most `blocking-write-and-flush` accepts in one call (wasi:io 0.2).
const WRITE_CHUNK: usize = 4096;

/// Sends `response` as the answer to the request. Fails only when the host refuses a header
/// (every header the component sets is plain ASCII) or the client has gone; the host then ends
/// the exchange, and there is nobody left to tell.
pub fn send(response: Response, out: ResponseOutparam) {
    let headers: Vec<(String, Vec<u8>)> = response
        .headers()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .chain([(
            "content-length".to_string(),
            response.body().len().to_string().into_bytes(),
        )])
        .collect();
    let Ok(fields) = Fields::from_list(&headers) else {
        return;
    };
    let outgoing = OutgoingResponse::new(fields);
    // 200 is the default status: one call fewer for most answers.
    let status = response.status();
    if status != 200 && outgoing.set_status_code(status).is_err() {
        return;
    }
    let Ok(body) = outgoing.body() else {
        return;
    };
    out.set(outgoing);
    if let Ok(stream) = body.write() {
        if write_all(&stream, response.body()).is_err() {
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.len() <= WRITE_CHUNK {
        return stream.blocking_write_and_flush(bytes);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = rest
            .len()
            .min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&rest[..n])?;
        rest = &rest[n..];
    }
    stream.blocking_flush()
}
