//! The OpenAPI document describes exactly the routing table: every route is documented with
//! its method, and every documented operation is routed.

use std::collections::BTreeSet;

use heart_disease_api::routes::{MODEL_FIGURES, OPENAPI_JSON, ROUTES};

#[test]
fn documented_operations_are_the_routed_ones() {
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| {
            let path: Vec<String> = r
                .pattern
                .split('/')
                .map(|seg| {
                    seg.strip_prefix(':')
                        .map_or(seg.to_string(), |name| format!("{{{name}}}"))
                })
                .collect();
            (r.method.to_string().to_lowercase(), path.join("/"))
        })
        .collect();
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(routed, documented);
}

#[test]
fn the_baked_document_is_generated_from_the_feature_table() {
    let baked: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert_eq!(baked, api_spec::openapi());
    let patient = &baked["components"]["schemas"]["Patient"]["properties"];
    for f in heart_model::FEATURES.iter() {
        assert!(
            patient.get(f.name).is_some(),
            "{} is not documented",
            f.name
        );
    }
}

/// The figures the component serves are the ones the model card lists (and documents).
#[test]
fn served_figures_are_the_model_cards() {
    let served: Vec<&str> = MODEL_FIGURES.iter().map(|(name, _)| *name).collect();
    let listed: Vec<String> = api_spec::model_figures()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(served, listed);
}
