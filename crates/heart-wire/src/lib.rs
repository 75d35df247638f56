//! The API's wire format and contract, around the pure model core ([`heart_model`]): what a
//! request may be ([`limits`], [`names`]), how a `/predict` body is read ([`json`],
//! [`predict`]) and its answer written ([`answer`]), the Open Inference Protocol's codec
//! ([`oip`]), and the OpenAPI document and HTML reference that describe it all ([`openapi`]).
//!
//! No I/O: bytes in, bytes out. The component reads and sends them over wasi:http; the
//! fuzzer, the property tests and the benchmarks call the same functions natively.

pub mod answer;
pub mod example;
pub mod json;
pub mod limits;
mod members;
pub mod names;
pub mod oip;
pub mod openapi;
pub mod predict;

pub use members::REPEATED_KEY;
pub use predict::{check_batch_size, PredictRequest, RequestError};
