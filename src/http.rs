//! The component's own request and response: plain data holding what the routes read and
//! write, in the order the host hands headers over and takes them back. spin-sdk's `Request`
//! and `Response` keep headers in a `HashMap` keyed by lowercased names and parse the target
//! as a URI; a fresh instance per request paid for that on every call, and the routes need
//! none of it.

pub use spin_sdk::http::Method;

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
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body,
        }
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
    fn setting_a_header_twice_keeps_the_last_value() {
        let mut r = Response::new(200, "application/json", vec![]);
        r.set_header("x-batch-size", "1");
        r.set_header("x-batch-size", "2");
        let headers: Vec<_> = r.headers().collect();
        assert_eq!(
            headers,
            [("content-type", "application/json"), ("x-batch-size", "2")]
        );
    }
}
