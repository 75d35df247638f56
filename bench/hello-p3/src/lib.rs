//! The wasi:http 0.3 "hello" fixture: a spin-sdk 6.0 component that answers every request
//! with a tiny 200. Built for wasm32-wasip2 by `make bench`; on the host it only type-checks
//! (the export is wasm-only, as in bench/hello).

use spin_sdk::http::{IntoResponse, Request, Response};

/// Any method, any path: `200 hello`.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_service)]
pub async fn handle(_request: Request) -> impl IntoResponse {
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body("hello".to_string())
}
