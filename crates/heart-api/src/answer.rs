//! The answer builders every layer above uses, the edge's refusals included: a JSON document,
//! bytes of a given media type, and RFC 9457 problem details (`application/problem+json`)
//! with the statuses the service answers with. They build [`Response`]s and know nothing of
//! routes, so the edge can refuse a request (408, 413, 400) without reaching the endpoints.

use heart_model::FieldError;
use serde::Serialize;

use crate::http::Response;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem's title is its status's reason phrase, as RFC 9110 §15 names it: the
    /// `http` crate's table (RFC 7231's phrases) but for the two that RFC 9110 renamed.
    #[test]
    fn titles_are_the_reason_phrases() {
        let all = [
            Status::BadRequest,
            Status::NotFound,
            Status::MethodNotAllowed,
            Status::RequestTimeout,
            Status::PayloadTooLarge,
            Status::UnsupportedMediaType,
            Status::UnprocessableContent,
        ];
        for status in all {
            let reason = http::StatusCode::from_u16(status.code())
                .unwrap()
                .canonical_reason()
                .unwrap();
            let rfc9110 = match reason {
                "Payload Too Large" => "Content Too Large",
                "Unprocessable Entity" => "Unprocessable Content",
                other => other,
            };
            assert_eq!(status.title(), rfc9110, "{}", status.code());
        }
    }
}
