//! A minimal native HTTP server around the model core, for `make bench` only: the same
//! `heart_model` parse → validate → assess → serialise path as the component's `POST /predict`,
//! behind hyper 1 on a single-threaded tokio runtime (the bench pins it to one core).
//!
//! `bench-native-server [ADDR]` (default `127.0.0.1:3001`). `GET /health` answers 200 too, so
//! the bench waits for it and measures its cold start the same way as the component's.

use std::convert::Infallible;
use std::net::SocketAddr;

use heart_model::{MODEL, MODEL_VERSION};
use heart_wire::PredictRequest;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Largest body read, as in the component.
const MAX_BODY_BYTES: usize = 256 * 1024;

fn answer(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-model-version", HeaderValue::from_static(MODEL_VERSION));
    response
}

/// The prediction path on a body already read.
fn predict(body: &[u8]) -> (StatusCode, Vec<u8>) {
    match PredictRequest::from_json_bytes(body) {
        Ok(request) => (StatusCode::OK, request.answer_json(&MODEL, MODEL_VERSION)),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:?}").into()),
    }
}

async fn serve(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let route = (request.method().clone(), request.uri().path().to_owned());
    let response = match (route.0, route.1.as_str()) {
        (Method::GET, "/health") => answer(
            StatusCode::OK,
            format!(r#"{{"status":"ok","model_version":"{MODEL_VERSION}"}}"#).into(),
        ),
        (Method::POST, "/predict") => {
            let json = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
            if !json {
                answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, b"{}".to_vec())
            } else {
                match Limited::new(request.into_body(), MAX_BODY_BYTES)
                    .collect()
                    .await
                {
                    Ok(body) => {
                        let (status, body) = predict(&body.to_bytes());
                        answer(status, body)
                    }
                    Err(_) => answer(StatusCode::PAYLOAD_TOO_LARGE, b"{}".to_vec()),
                }
            }
        }
        _ => answer(StatusCode::NOT_FOUND, b"{}".to_vec()),
    };
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    eprintln!("bench-native-server listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(serve))
                .await;
        });
    }
}
