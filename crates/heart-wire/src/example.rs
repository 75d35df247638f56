//! The example patient ([`heart_model::schema::EXAMPLE`], the data set's first row) as the wire
//! carries it: the example of the API documentation, and the body the tests, the benchmarks and
//! `make up`'s hint send. Written here once, from the feature table, so no document, test or
//! bench retypes the thirteen values.

use heart_model::schema::{EXAMPLE, FEATURES};
use serde_json::{Map, Value};

/// A feature value as the API documentation writes it: whole numbers without a fraction (`63`,
/// not `63.0`), others in the shortest form that reads back exactly (`2.3`).
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// The example patient as a JSON object (the OpenAPI document's example; its members sorted
/// by name, as a `serde_json` map keeps them).
pub fn patient() -> Value {
    FEATURES
        .iter()
        .zip(EXAMPLE)
        .map(|(f, x)| (f.name.to_string(), number(x)))
        .collect::<Map<String, Value>>()
        .into()
}

/// The example patient as a compact `/predict` body, members in feature order.
pub fn patient_json() -> String {
    let members: Vec<String> = FEATURES
        .iter()
        .zip(EXAMPLE)
        .map(|(f, x)| format!("\"{}\":{}", f.name, number(x)))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// The example patient as one row of an Open Inference Protocol tensor: `[63,1,…,6]`.
pub fn row() -> Value {
    EXAMPLE.into_iter().map(number).collect()
}

/// [`row`] as compact JSON.
pub fn row_json() -> String {
    row().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PredictRequest;

    #[test]
    fn the_example_reads_back_as_the_feature_table_says() {
        let body = patient_json();
        let request =
            PredictRequest::from_json_bytes(body.as_bytes()).expect("the example is valid");
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&body).unwrap();
        for (f, x) in FEATURES.iter().zip(EXAMPLE) {
            assert_eq!(parsed[f.name].as_f64(), Some(x), "{}", f.name);
        }
        assert!(matches!(request, PredictRequest::Single(_)), "{body}");
        let row: Vec<f64> = serde_json::from_str(&row_json()).unwrap();
        assert_eq!(row, EXAMPLE);
    }

    #[test]
    fn whole_numbers_are_written_without_a_fraction() {
        assert_eq!(number(63.0).to_string(), "63");
        assert_eq!(number(2.3).to_string(), "2.3");
        assert_eq!(number(-0.5).to_string(), "-0.5");
    }
}
