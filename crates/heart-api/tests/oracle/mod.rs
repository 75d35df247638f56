//! Independent references for the host-side checks (tests/properties.rs, and the fuzz target
//! through `#[path]`): what serde_json, not the component's own reader, makes of a body.

#![allow(dead_code)] // each user takes its own part

/// A JSON text's shape with every member kept, repeated names included (serde_json's `Value`
/// keeps only the last one): what the repeated-key oracle below reads a body into.
enum Node {
    Leaf,
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Node>()? {
                    members.push(member);
                }
                Ok(Node::Object(members))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The oracle's rule for repeated keys in a `POST /predict` body, read by serde_json (not by
/// the component's own reader): the JSON Pointers of the keys that appear more than once in a
/// patient object or in the batch wrapper. Those are the body's top-level object and, when it
/// holds `"instances"` once with an array of 1 to `max_batch` items, each object item
/// (`/instances/3/age`); a repeated `"instances"` is itself the one named there, its items
/// unread. Keys repeated deeper (inside a value that is not a patient) are not named: such a
/// value is refused for what it is. `None` when serde_json refuses the body.
pub fn repeated_keys(body: &[u8], max_batch: usize) -> Option<Vec<String>> {
    fn escape(key: &str) -> String {
        key.replace('~', "~0").replace('/', "~1")
    }
    fn repeated_in(members: &[(String, Node)], prefix: &str, out: &mut Vec<String>) {
        let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        for same in names.chunk_by(|a, b| a == b).filter(|same| same.len() > 1) {
            out.push(format!("{prefix}/{}", escape(same[0])));
        }
    }
    let node: Node = serde_json::from_slice(body).ok()?;
    let mut out = Vec::new();
    if let Node::Object(members) = &node {
        repeated_in(members, "", &mut out);
        let instances: Vec<&Node> = members
            .iter()
            .filter(|(k, _)| k == "instances")
            .map(|(_, v)| v)
            .collect();
        if let [Node::Array(items)] = instances.as_slice() {
            if (1..=max_batch).contains(&items.len()) {
                for (i, item) in items.iter().enumerate() {
                    if let Node::Object(members) = item {
                        repeated_in(members, &format!("/instances/{i}"), &mut out);
                    }
                }
            }
        }
    }
    Some(out)
}

/// Equal JSON, but for numbers, which may differ by 1e-9 (relative to their size, at least 1).
pub fn nearly_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| nearly_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| nearly_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The risk level the thresholds give a probability, written out here rather than taken from
/// `RiskLevel::from_probability`, which is what it checks.
pub fn risk_level(p: f64) -> &'static str {
    use heart_model::model::{HIGH_RISK_FROM, MODERATE_RISK_FROM};
    if p >= HIGH_RISK_FROM {
        "high"
    } else if p >= MODERATE_RISK_FROM {
        "moderate"
    } else {
        "low"
    }
}
