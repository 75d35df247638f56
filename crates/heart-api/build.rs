//! Writes the OpenAPI document and the HTML reference into OUT_DIR, generated from the model
//! core's feature table by `crates/heart-wire`; `src/endpoints.rs` bakes them in as constants,
//! beside the routes that serve them.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let doc = heart_wire::openapi::openapi();
    std::fs::write(out.join("openapi.json"), doc.to_string()).expect("write openapi.json");
    std::fs::write(out.join("docs.html"), heart_wire::openapi::docs_html(&doc))
        .expect("write docs.html");
    println!("cargo:rerun-if-changed=build.rs");
}
