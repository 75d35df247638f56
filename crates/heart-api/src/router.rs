//! The matcher: a small static router over a table of method, path pattern and handler,
//! where a `:name` segment captures that part of the path. A path that some route knows under
//! another method is [`Lookup::WrongMethod`] with the `Allow` it needs; anything else is
//! [`Lookup::NotFound`]. `HEAD` goes wherever `GET` goes (RFC 9110 §9.3.2: the same status
//! and headers, and the host sends no body), so every `GET` route allows `GET, HEAD`.
//!
//! It knows the plain HTTP types and nothing of the endpoints or of how a miss is answered
//! (the table and those answers are [`crate::routes`]'), so it is tested with a table of its
//! own.
//!
//! spin-sdk's `Router` does the same with a trie built per request and boxed async handlers;
//! every request builds a fresh instance here, so a constant table is both faster and
//! smaller in the `.wasm`.

use crate::http::{Method, Request, Response};

/// An endpoint: what it does with a request and its path captures.
pub type Handler = fn(&Request, &Params) -> Response;

/// One row of the routing table.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub handler: Handler,
}

impl Route {
    pub const fn get(pattern: &'static str, handler: Handler) -> Route {
        Route {
            method: Method::Get,
            pattern,
            handler,
        }
    }

    pub const fn post(pattern: &'static str, handler: Handler) -> Route {
        Route {
            method: Method::Post,
            pattern,
            handler,
        }
    }
}

/// The `:name` segments a route captured.
#[derive(Debug, Default)]
pub struct Params<'a> {
    captures: Vec<(&'static str, &'a str)>,
}

impl Params<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Where a request goes.
pub enum Lookup<'a> {
    Route(Handler, Params<'a>),
    /// The path exists, with these methods only (for `Allow`).
    WrongMethod(String),
    NotFound,
}

/// Looks a request up in the table; a `HEAD` request finds the `GET` route.
pub fn find<'a>(routes: &[Route], method: &Method, path: &'a str) -> Lookup<'a> {
    let method = match method {
        Method::Head => &Method::Get,
        other => other,
    };
    let mut allow: Vec<String> = Vec::new();
    for route in routes {
        if let Some(params) = captures(route.pattern, path) {
            if route.method == *method {
                return Lookup::Route(route.handler, params);
            }
            let heads = (route.method == Method::Get).then_some(Method::Head);
            for m in std::iter::once(&route.method).chain(&heads) {
                let m = m.to_string();
                if !allow.contains(&m) {
                    allow.push(m);
                }
            }
        }
    }
    if allow.is_empty() {
        Lookup::NotFound
    } else {
        Lookup::WrongMethod(allow.join(", "))
    }
}

fn captures<'a>(pattern: &'static str, path: &'a str) -> Option<Params<'a>> {
    let mut params = Params::default();
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with(':') && !g.is_empty() => {
                params.captures.push((&w[1..], g))
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request, _: &Params) -> Response {
        Response::new(200, "text/plain", Vec::new())
    }

    fn created(_: &Request, _: &Params) -> Response {
        Response::new(201, "text/plain", Vec::new())
    }

    /// A table of its own for the matcher, apart from the real one.
    const SAMPLE: &[Route] = &[
        Route::post("/predict", ok),
        Route::get("/v2/models/:model", ok),
        Route::get("/v2/models/:model/versions/:version/ready", ok),
        Route::get("/both", ok),
        Route::post("/both", created),
    ];

    fn status(found: Lookup) -> u16 {
        match found {
            Lookup::Route(handler, params) => {
                let req = Request::new(Method::Get, "/", vec![], vec![]);
                handler(&req, &params).status()
            }
            Lookup::WrongMethod(_) => 405,
            Lookup::NotFound => 404,
        }
    }

    #[test]
    fn head_goes_where_get_goes() {
        assert_eq!(status(find(SAMPLE, &Method::Head, "/both")), 200);
        assert_eq!(status(find(SAMPLE, &Method::Post, "/both")), 201);
        match find(SAMPLE, &Method::Head, "/v2/models/heart/versions/7/ready") {
            Lookup::Route(_, p) => assert_eq!(p.get("version"), Some("7")),
            _ => panic!("no match"),
        }
        // Not where only POST goes, and the Allow of a GET route names HEAD.
        assert!(
            matches!(find(SAMPLE, &Method::Head, "/predict"), Lookup::WrongMethod(a) if a == "POST")
        );
        assert!(
            matches!(find(SAMPLE, &Method::Put, "/v2/models/m"), Lookup::WrongMethod(a) if a == "GET, HEAD")
        );
        assert!(
            matches!(find(SAMPLE, &Method::Delete, "/both"), Lookup::WrongMethod(a) if a == "GET, HEAD, POST")
        );
        assert!(matches!(
            find(SAMPLE, &Method::Head, "/nowhere"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn matches_methods_paths_and_captures() {
        assert!(matches!(
            find(SAMPLE, &Method::Post, "/predict"),
            Lookup::Route(..)
        ));
        assert!(
            matches!(find(SAMPLE, &Method::Get, "/predict"), Lookup::WrongMethod(a) if a == "POST")
        );
        assert!(matches!(
            find(SAMPLE, &Method::Post, "/predict/"),
            Lookup::NotFound
        ));
        assert!(matches!(
            find(SAMPLE, &Method::Get, "/v2/models/"),
            Lookup::NotFound
        ));
        match find(SAMPLE, &Method::Get, "/v2/models/heart/versions/7/ready") {
            Lookup::Route(_, p) => assert_eq!(
                (p.get("model"), p.get("version")),
                (Some("heart"), Some("7"))
            ),
            _ => panic!("no match"),
        }
    }
}
