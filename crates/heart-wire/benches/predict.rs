//! Host micro-benchmarks of the model path the component runs for `POST /predict`:
//! JSON bytes → parse + validate → assess (`json_to_prediction`, the prediction from JSON
//! bytes) → serialise the answer (`json_to_json`, the whole path), for one patient and for a
//! batch of 1000, plus each step alone for one patient (where the time goes).
//!
//! The `oip` group times the Open Inference Protocol's codec the same way.
//!
//! `cargo bench -p heart-wire --bench predict` (`make bench` runs it and reads the estimates
//! from `target/criterion/`). Timing lives here only: `cargo test` does not run benches.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use heart_model::{Assessment, MODEL, MODEL_VERSION};
use heart_wire::answer::write_assessment;
use heart_wire::oip::InferRequest;
use heart_wire::PredictRequest;

/// The patient every bench (and the end-to-end load) sends: the example patient.
fn patient() -> String {
    heart_wire::example::patient_json()
}

/// The whole path, as `predict` in crates/heart-api/src/endpoints.rs runs it on a body already read.
fn respond(body: &[u8]) -> Vec<u8> {
    PredictRequest::from_json_bytes(body)
        .expect("a valid request")
        .answer_json(&MODEL, MODEL_VERSION)
}

/// A prediction from JSON bytes: parse + validate + assess, without writing the answer.
fn predict(body: &[u8]) -> Vec<Assessment> {
    PredictRequest::from_json_bytes(body)
        .expect("a valid request")
        .assessments(&MODEL)
}

fn batch_body(n: usize) -> Vec<u8> {
    format!(r#"{{"instances":[{}]}}"#, vec![patient(); n].join(",")).into_bytes()
}

fn single(c: &mut Criterion) {
    let patient = patient();
    let body = patient.as_bytes();
    let patient = match PredictRequest::from_json_bytes(body).unwrap() {
        PredictRequest::Single(p) => p,
        PredictRequest::Batch(_) => unreachable!("one patient"),
    };
    let assessment = MODEL.assess(&patient);
    let mut g = c.benchmark_group("single");
    g.throughput(Throughput::Elements(1));
    g.bench_function("json_to_prediction", |b| {
        b.iter(|| predict(black_box(body)))
    });
    g.bench_function("json_to_json", |b| b.iter(|| respond(black_box(body))));
    g.bench_function("parse_validate", |b| {
        b.iter(|| PredictRequest::from_json_bytes(black_box(body)))
    });
    g.bench_function("assess", |b| b.iter(|| MODEL.assess(black_box(&patient))));
    g.bench_function("serialize", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(512);
            write_assessment(
                black_box(&assessment),
                &mut out,
                Some(MODEL_VERSION),
                &mut Default::default(),
            );
            out
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let body = batch_body(1000);
    assert_eq!(
        PredictRequest::from_json_bytes(&body)
            .unwrap()
            .patients()
            .len(),
        1000
    );
    let mut g = c.benchmark_group("batch1000");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(30);
    g.bench_function("json_to_predictions", |b| {
        b.iter(|| predict(black_box(&body)))
    });
    g.bench_function("json_to_json", |b| b.iter(|| respond(black_box(&body))));
    g.finish();
}

/// The Open Inference Protocol's codec (`heart_wire::oip`): an infer request decoded, assessed
/// and encoded, for one patient in JSON and for 1000 in the binary tensor data extension (as
/// tritonclient sends them, answered in binary). Not in `make bench`'s report, which reads the
/// `single` and `batch1000` groups.
fn oip(c: &mut Criterion) {
    let row = heart_wire::example::row_json();
    let json = format!(
        r#"{{"inputs": [{{"name": "patients", "shape": [1, 13], "datatype": "FP64", "data": [{row}]}}]}}"#
    );
    let header = r#"{"inputs": [{"name": "patients", "shape": [1000, 13], "datatype": "FP64", "parameters": {"binary_data_size": 104000}}], "parameters": {"binary_data_output": true}}"#;
    let values = heart_model::schema::EXAMPLE;
    let mut binary = header.as_bytes().to_vec();
    for _ in 0..1000 {
        binary.extend(values.iter().flat_map(|x| x.to_le_bytes()));
    }
    let header_length = header.len().to_string();
    let infer = |body: &[u8], header_length: Option<&str>| {
        InferRequest::parse(body, header_length)
            .expect("a valid request")
            .answer(&MODEL, MODEL_VERSION)
    };
    assert!(infer(&binary, Some(&header_length)).header_length.is_some());
    let mut g = c.benchmark_group("oip");
    g.bench_function("json_single", |b| {
        b.iter(|| infer(black_box(json.as_bytes()), None))
    });
    g.throughput(Throughput::Elements(1000));
    g.sample_size(30);
    g.bench_function("binary_batch1000", |b| {
        b.iter(|| infer(black_box(&binary), Some(&header_length)))
    });
    g.finish();
}

fn config() -> Criterion {
    // Bounded: `make bench` runs the whole suite in well under a minute.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = single, batch, oip
}
criterion_main!(benches);
