//! The two builds are one service: the wasi:http 0.3 build (crates/edge-p3) answers every
//! route exactly as the wasi:http 0.2 build does — status, headers and body, byte for byte —
//! when both are served by the same Spin 4 (`spin` and `spin-p3`). Where Spin 4 is not on
//! PATH, the trial is reported as not run with the reason.

use heart_model::MODEL_VERSION;
use heart_served::trials::{native, not_run};
use heart_served::{Body, Req, Runtime, Server};
use heart_wire::example;
use libtest_mimic::{Arguments, Completion, Trial};

fn main() -> std::process::ExitCode {
    let trial = match [Runtime::Spin, Runtime::SpinP3]
        .into_iter()
        .find_map(not_run)
    {
        Some(why) => {
            let name = "spin-p3::answers_equal_the_wasi_http_0_2_build";
            Trial::ignorable_test(name, move || Ok(Completion::ignored_with(why)))
        }
        None => native(
            "spin-p3::answers_equal_the_wasi_http_0_2_build",
            answers_equal_the_wasi_http_0_2_build,
        ),
    };
    libtest_mimic::run(&Arguments::from_args(), vec![trial]).exit_code()
}

/// A request on every route and for every kind of answer: each endpoint, both media types of
/// the inference protocol, every class of refusal, HEAD, a wrong method, an unknown path.
fn requests() -> Vec<Req> {
    let model = "/v2/models/heart-disease";
    let version = format!("{model}/versions/{MODEL_VERSION}");
    let mut requests: Vec<Req> = heart_served::get_paths()
        .iter()
        .flat_map(|path| [Req::get(path), Req::new("HEAD", path)])
        .collect();
    let patient = example::patient_json();
    let row = example::row_json();
    let json = |path: &str, body: String| {
        Req::post(path, body.into_bytes()).header("content-type", "application/json")
    };
    let infer = |rows: usize, extra: &str| {
        let data = vec![row.clone(); rows].join(",");
        format!(
            r#"{{{extra}"inputs": [{{"name": "patients", "shape": [{rows}, 13], "datatype": "FP64", "data": [{data}]}}]}}"#
        )
    };
    requests.extend([
        json("/predict", patient.clone()),
        json(
            "/predict",
            format!(r#"{{"instances": [{patient}, {patient}]}}"#),
        ),
        json("/predict", patient.replace(r#""cp":"#, r#""cp":9,"x":"#)),
        json("/predict", "{".into()),
        json("/predict", format!("[{patient}]")),
        Req::post("/predict", patient.clone().into_bytes()).header("content-type", "text/plain"),
        Req::post("/predict", vec![b' '; 300 * 1024]).header("content-type", "application/json"),
        Req::post("/predict", Vec::new())
            .header("content-type", "application/json")
            .body(Body::Chunked {
                chunk: vec![b' '; 16 * 1024],
                chunks: 20,
            }),
        Req::new("DELETE", "/predict"),
        Req::new("BREW", "/health"),
        json(&format!("{model}/infer"), infer(2, "")),
        json(
            &format!("{version}/infer"),
            infer(3, r#""parameters": {"binary_data_output": true}, "#),
        ),
        json(
            &format!("{model}/infer"),
            infer(1, "").replace("13]", "12]"),
        ),
        json("/v2/models/other/infer", infer(1, "")),
    ]);
    requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.header("x-request-id", &format!("same-{i}")))
        .collect()
}

fn answers_equal_the_wasi_http_0_2_build() {
    let p2 = Server::start(Runtime::Spin);
    let p3 = Server::start(Runtime::SpinP3);
    for req in requests() {
        let (a, b) = (p2.send(&req), p3.send(&req));
        assert_eq!(
            (b.status, b.comparable_headers(), &b.body),
            (a.status, a.comparable_headers(), &a.body),
            "{} {}: the 0.3 build answers otherwise",
            req.method,
            req.path
        );
    }
}
