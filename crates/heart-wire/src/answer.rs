//! The answer to `POST /predict`: the shape of an assessment on the wire, declared once
//! ([`ASSESSMENT_FIELDS`]), and its writer. The OpenAPI document describes these members
//! ([`crate::openapi`]), and the tests check the writer and the WIT export's `assessment`
//! record against the same list.

use heart_model::schema::{FEATURES, N_FEATURES};
use heart_model::Assessment;

/// The members of an assessment on the wire, in the order they are written; a single
/// answer puts `"model_version"` before them. `contributions` is an object with one number
/// per feature (in [`FEATURES`] order), `imputed` an array of the imputed features' names.
pub const ASSESSMENT_FIELDS: [&str; 6] = [
    "prediction",
    "probability",
    "risk_level",
    "contributions",
    "intercept",
    "imputed",
];

/// Appends `a` as one JSON object to `out`, with `"model_version"` first when given (as a
/// single `/predict` answer carries it), then the members of [`ASSESSMENT_FIELDS`] in that
/// order. Written by hand rather than through serde: the names are constants that need no
/// escaping, so an answer is a few copies and 15 numbers. `texts` keeps the numbers that recur
/// from one assessment to the next: give every assessment of one answer the same.
pub fn write_assessment(
    a: &Assessment,
    out: &mut Vec<u8>,
    model_version: Option<&str>,
    texts: &mut NumberTexts,
) {
    out.push(b'{');
    if let Some(version) = model_version {
        out.extend_from_slice(b"\"model_version\":");
        write_str(out, version);
        out.push(b',');
    }
    out.extend_from_slice(b"\"prediction\":");
    out.push(b'0' + a.prediction);
    out.extend_from_slice(b",\"probability\":");
    write_f64(out, a.probability);
    out.extend_from_slice(b",\"risk_level\":\"");
    out.extend_from_slice(a.risk_level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"contributions\":{");
    for (i, (feature, c)) in FEATURES.iter().zip(a.contributions).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(feature.name.as_bytes());
        out.extend_from_slice(b"\":");
        texts.write(out, Some(i), c);
    }
    out.extend_from_slice(b"},\"intercept\":");
    texts.write(out, None, a.intercept);
    out.extend_from_slice(b",\"imputed\":[");
    for (i, name) in a.imputed_names().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"]}");
}

/// The text of numbers that recur in an answer, written once and copied after. A categorical
/// feature's contribution takes one value per level (its weight times the level's one-hot or
/// flag value), and the intercept one value, so a batch writes the same few numbers over and
/// over; formatting a number costs many times the copy, more in wasm (which has no 64 × 64 → 128
/// bit product; what remembering saves is measured in bench/RESULTS.md, the `NumberTexts` row). Numbers of continuous features are written each time. Texts are keyed by the
/// number's exact bits, so a remembered text is always the number's own.
#[derive(Debug, Clone, Default)]
pub struct NumberTexts {
    /// Per feature with few values (in [`FEATURES`] order), then the intercept.
    seen: [[Option<Text>; FEW]; N_FEATURES + 1],
}

/// Most values remembered per feature: the most levels a feature has.
const FEW: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Text {
    bits: u64,
    len: u8,
    bytes: [u8; 32],
}

impl NumberTexts {
    /// Writes `x`, the contribution of feature `feature` (`None`: the intercept).
    fn write(&mut self, out: &mut Vec<u8>, feature: Option<usize>, x: f64) {
        let slot = match feature {
            Some(i) if FEATURES[i].has_few_values() => i,
            Some(_) => return write_f64(out, x),
            None => N_FEATURES,
        };
        for text in self.seen[slot].iter_mut() {
            match text {
                Some(t) if t.bits == x.to_bits() => {
                    out.extend_from_slice(&t.bytes[..usize::from(t.len)]);
                    return;
                }
                Some(_) => {}
                None => {
                    let start = out.len();
                    write_f64(out, x);
                    let written = &out[start..];
                    let mut bytes = [0; 32];
                    bytes[..written.len()].copy_from_slice(written);
                    *text = Some(Text {
                        bits: x.to_bits(),
                        len: written.len() as u8,
                        bytes,
                    });
                    return;
                }
            }
        }
        write_f64(out, x);
    }
}

/// A number as serde_json writes it (shortest round-trip form, at most 24 bytes; `null` if not
/// finite, which validated inputs and finite weights never produce).
fn write_f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A JSON string, escaped.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use heart_model::Patient;

    fn patient(values: [f64; N_FEATURES]) -> Patient {
        Patient::from_values(values.map(Some)).unwrap()
    }

    const A: [f64; N_FEATURES] = heart_model::schema::EXAMPLE;
    /// The data set's second patient.
    const B: [f64; N_FEATURES] = [
        67.0, 1.0, 4.0, 160.0, 286.0, 0.0, 2.0, 108.0, 1.0, 1.5, 2.0, 3.0, 3.0,
    ];

    #[test]
    fn the_writer_writes_the_declared_members_in_order() {
        let mut out = Vec::new();
        write_assessment(
            &heart_model::MODEL.assess(&patient(A)),
            &mut out,
            Some("v"),
            &mut NumberTexts::default(),
        );
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        // serde_json's map sorts its keys: the order is read from the text.
        let mut want = vec!["model_version"];
        want.extend(ASSESSMENT_FIELDS);
        let at: Vec<usize> = want
            .iter()
            .map(|k| {
                text.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(value.as_object().unwrap().len(), want.len());
        let contributions = &value["contributions"];
        assert_eq!(contributions.as_object().unwrap().len(), FEATURES.len());
        let at: Vec<usize> = FEATURES
            .iter()
            .map(|f| text.find(&format!("\"{}\":", f.name)).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    /// The typed export (wit/predictor.wit) carries the same members, in kebab-case, and the
    /// model version; the component fills them from the same assessment.
    #[test]
    fn the_wit_assessment_record_has_the_same_members() {
        let wit = include_str!("../../../wit/predictor.wit");
        let record = wit
            .split("record assessment {")
            .nth(1)
            .expect("wit has record assessment");
        let body = &record[..record.find('}').unwrap()];
        let members: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("///") && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().trim().replace('-', "_"))
            .collect();
        let mut want: Vec<String> = ASSESSMENT_FIELDS.iter().map(|s| s.to_string()).collect();
        want.push("model_version".into());
        assert_eq!(members, want);
    }

    #[test]
    fn the_json_answer_is_exact_and_in_wire_order() {
        let model = heart_model::MODEL;
        let missing = patient(A).with(10, None).unwrap().with(12, None).unwrap();
        for p in [patient(A), patient(B), missing] {
            let a = model.assess(&p);
            let mut out = Vec::new();
            write_assessment(&a, &mut out, Some("v-1"), &mut NumberTexts::default());
            let text = String::from_utf8(out).unwrap();
            // The same text assembled with serde_json's own formatting of each value.
            let num = |x: f64| serde_json::to_string(&x).unwrap();
            let contributions: Vec<String> = FEATURES
                .iter()
                .zip(a.contributions)
                .map(|(f, c)| format!("\"{}\":{}", f.name, num(c)))
                .collect();
            let imputed: Vec<String> = a.imputed_names().map(|n| format!("\"{n}\"")).collect();
            let expected = format!(
                r#"{{"model_version":"v-1","prediction":{},"probability":{},"risk_level":"{}","contributions":{{{}}},"intercept":{},"imputed":[{}]}}"#,
                a.prediction,
                num(a.probability),
                a.risk_level.as_str(),
                contributions.join(","),
                num(a.intercept),
                imputed.join(",")
            );
            assert_eq!(text, expected);
            // The numbers are written in their shortest form that reads back exactly.
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
            for x in a.contributions.iter().chain([&a.probability, &a.intercept]) {
                assert_eq!(num(*x).parse::<f64>().unwrap(), *x);
            }
        }
    }

    #[test]
    fn remembered_numbers_are_written_as_they_were() {
        let model = heart_model::MODEL;
        let mut varied = B;
        varied[2] = 2.0; // another chest pain type
        varied[11] = 1.0; // another vessel count
        let patients = [
            patient(A),
            patient(B),
            patient(varied),
            patient(A).with(12, None).unwrap(),
            patient(B).with(11, None).unwrap(),
        ];
        let mut shared = NumberTexts::default();
        for p in patients.iter().chain(&patients) {
            let a = model.assess(p);
            let (mut remembered, mut fresh) = (Vec::new(), Vec::new());
            write_assessment(&a, &mut remembered, None, &mut shared);
            write_assessment(&a, &mut fresh, None, &mut NumberTexts::default());
            assert_eq!(String::from_utf8(remembered), String::from_utf8(fresh));
        }
    }
}
