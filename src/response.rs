//! What the component answers: JSON documents and RFC 9457 problem details.

use crate::http::Response;
use heart_model::FieldError;
use serde::Serialize;

/// Header carried by every response, so a caller always knows which model answered.
pub const MODEL_VERSION_HEADER: &str = "x-model-version";

/// The statuses the component answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableContent,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PayloadTooLarge => 413,
            Status::UnsupportedMediaType => 415,
            Status::UnprocessableContent => 422,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PayloadTooLarge => "Content Too Large",
            Status::UnsupportedMediaType => "Unsupported Media Type",
            Status::UnprocessableContent => "Unprocessable Content",
        }
    }
}

/// A 200 with a JSON document.
pub fn json(value: &impl Serialize) -> Response {
    json_with_status(200, value)
}

/// A JSON document with any status.
pub fn json_with_status(status: u16, value: &impl Serialize) -> Response {
    // Serialising our own plain structs to memory cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    typed(status, "application/json", body)
}

/// A 200 with JSON that is already bytes.
pub fn json_bytes(body: impl Into<Vec<u8>>) -> Response {
    typed(200, "application/json", body)
}

/// A response with a body of the given media type.
pub fn typed(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
    Response::new(status, content_type, body.into())
}

#[derive(Serialize)]
struct Problem<'a> {
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [WireFieldError<'a>],
}

#[derive(Serialize)]
struct WireFieldError<'a> {
    field: &'a str,
    reason: &'a str,
}

/// An `application/problem+json` answer: what went wrong (`detail`) and, for a bad body,
/// every offending field (a JSON Pointer) with the reason.
pub fn problem(status: Status, detail: &str, errors: &[FieldError]) -> Response {
    let errors: Vec<WireFieldError> = errors
        .iter()
        .map(|e| WireFieldError {
            field: &e.field,
            reason: &e.reason,
        })
        .collect();
    let body = serde_json::to_vec(&Problem {
        title: status.title(),
        status: status.code(),
        detail,
        errors: &errors,
    })
    .unwrap_or_default();
    typed(status.code(), "application/problem+json", body)
}
