//! The ground floor: plain HTTP data, the request as the service reads it and the response
//! as it writes it. No host type appears here, so the same service runs behind any edge (the
//! wasi:http 0.2 component, a future wasi:http 0.3 one, the fuzzer, the property tests).
//!
//! Plain data holding what the routes read and write, in the order the host hands headers
//! over and takes them back. spin-sdk's `Request` and `Response` keep headers in a `HashMap`
//! keyed by lowercased names and parse the target as a URI; a fresh instance per request paid
//! for that on every call, and the routes need none of it.

use std::fmt;

use heart_wire::names::BATCH_SIZE_HEADER;

/// A request method: wasi:http's variants, so an edge maps the host's method one to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    Other(String),
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(other) => other,
        })
    }
}

impl From<&str> for Method {
    /// The method a request line names, the inverse of `Display`: methods are case-sensitive,
    /// so `get` is [`Method::Other`], as any unknown name is.
    fn from(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        }
    }
}

/// A request with its body read.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// `target` is the request target as sent (`/predict?x=1`); only its path is kept.
    pub fn new(
        method: Method,
        target: &str,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Self {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        Request {
            method,
            path: path.to_string(),
            headers,
            body,
        }
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of header `name` (ASCII case-insensitive), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The same request with `body` as its body.
    pub fn with_body(self, body: Vec<u8>) -> Self {
        Request { body, ..self }
    }
}

/// A response: status, headers (names in lower case, set by the component), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// How many patients the answer assesses (a prediction's), for the log.
    batch_size: Option<usize>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body,
            batch_size: None,
        }
    }

    /// Records that the answer assesses `n` patients, for the log and for the caller
    /// (`x-batch-size`).
    pub fn set_batch_size(&mut self, n: usize) {
        self.batch_size = Some(n);
        self.set_header(BATCH_SIZE_HEADER, n.to_string());
    }

    /// How many patients the answer assesses; `None` for anything but a prediction.
    pub fn batch_size(&self) -> Option<usize> {
        self.batch_size
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in the order they were set.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.headers.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The headers as an edge hands them to its host, in one list: every header set, then
    /// the body's `content-length` (every answer declares it, `HEAD`'s included).
    pub fn wire_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.headers()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .chain([(
                "content-length".to_string(),
                self.body.len().to_string().into_bytes(),
            )])
            .collect()
    }

    /// Sets header `name` (lower case), replacing any value it had.
    pub fn set_header(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.headers.push((name, value)),
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, for an edge that hands it to the host without copying.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_the_path_and_find_headers_in_any_case() {
        let r = Request::new(
            Method::Post,
            "/predict?age=63",
            vec![("Content-Type".into(), b"application/json".to_vec())],
            b"{}".to_vec(),
        );
        assert_eq!(r.path(), "/predict");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-request-id"), None);
    }

    #[test]
    fn a_method_reads_back_from_its_name() {
        for name in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "BREW",
        ] {
            let method = Method::from(name);
            assert_eq!(method.to_string(), name);
            assert_eq!(method == Method::Other(name.into()), name == "BREW");
        }
        assert_eq!(Method::from("get"), Method::Other("get".into()));
    }

    #[test]
    fn setting_a_header_twice_keeps_the_last_value() {
        let mut r = Response::new(200, "application/json", vec![]);
        r.set_batch_size(1);
        r.set_batch_size(2);
        assert_eq!(r.batch_size(), Some(2));
        let headers: Vec<_> = r.headers().collect();
        assert_eq!(
            headers,
            [("content-type", "application/json"), ("x-batch-size", "2")]
        );
    }

    #[test]
    fn the_wire_headers_end_with_the_body_length() {
        let r = Response::new(404, "application/problem+json", b"{}".to_vec());
        assert_eq!(
            r.wire_headers(),
            [
                ("content-type".into(), b"application/problem+json".to_vec()),
                ("content-length".into(), b"2".to_vec())
            ]
        );
    }
}
