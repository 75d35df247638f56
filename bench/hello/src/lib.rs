//! The "hello" fixture: a spin-sdk 5.2 component that answers every request with a tiny 200.
//! Built for wasm32-wasip2 by `make bench`; on the host it only type-checks (the export's
//! names are not valid symbols for a native shared library, so the attribute is wasm-only).

use spin_sdk::http::{Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;

/// Any method, any path: `200 hello`.
#[cfg_attr(target_arch = "wasm32", http_component)]
pub fn handle(_request: Request) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body("hello")
        .build()
}
