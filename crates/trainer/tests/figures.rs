//! The committed figures (`model/figures/*.svg`; their freshness is checked with the other
//! outputs in `committed_artifact.rs`) are well-formed, self-contained, accessible and small;
//! the numbers they print are the model card's; the ROC curve runs monotonically from (0, 0)
//! to (1, 1) and its area is the card's ROC-AUC.

use serde_json::Value;
use trainer::figures::{CALIBRATION_FILE, COEFFICIENTS_FILE, ROC_FILE};
use trainer::{CARD_FILE, FIGURES_DIR};

const FIGURES: [&str; 3] = [ROC_FILE, CALIBRATION_FILE, COEFFICIENTS_FILE];

/// Together they are baked into the `.wasm`: keep them under this many bytes.
const BUDGET: usize = 12 * 1024;

fn repo_text(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn card() -> Value {
    serde_json::from_str(&repo_text(CARD_FILE)).unwrap()
}

struct Element {
    name: String,
    attributes: Vec<(String, String)>,
}

/// A small XML well-formedness check (no XML crate in the lock file): tags nest and match,
/// attributes are quoted and not repeated, `&` starts a known entity, one root element.
/// Returns the elements in document order with their attributes.
fn check_well_formed(xml: &str) -> Result<Vec<Element>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut roots = 0;
    let mut rest = xml;
    let entity_ok = |s: &str| -> bool {
        ["amp;", "lt;", "gt;", "quot;", "apos;"]
            .iter()
            .any(|e| s.starts_with(e))
            || (s.starts_with('#')
                && s[1..].find(';').is_some_and(|end| {
                    end > 0 && s[1..1 + end].chars().all(|c| c.is_ascii_alphanumeric())
                }))
    };
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            check_text(rest, &entity_ok)?;
            if !rest.trim().is_empty() {
                return Err("text after the root element".into());
            }
            break;
        };
        let text = &rest[..lt];
        check_text(text, &entity_ok)?;
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root element: {text:?}"));
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("unclosed comment")?;
            rest = &after[end + 3..];
            continue;
        }
        let gt = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => continue,
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        }
        let (body, empty) = match tag.strip_suffix('/') {
            Some(b) => (b, true),
            None => (tag, false),
        };
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
        {
            return Err(format!("bad element name in <{tag}>"));
        }
        let mut attrs = &body[name_end..];
        let mut seen: Vec<(String, String)> = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                break;
            }
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value in <{tag}>"))?;
            let key = attrs[..eq].trim();
            if key.is_empty()
                || key.contains(char::is_whitespace)
                || seen.iter().any(|a| a.0 == key)
            {
                return Err(format!("bad or repeated attribute {key:?} in <{name}>"));
            }
            let value = attrs[eq + 1..].trim_start();
            let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'');
            let quote = quote.ok_or(format!("unquoted attribute {key} in <{name}>"))?;
            let end = value[1..].find(quote).ok_or("unclosed attribute value")?;
            let v = &value[1..1 + end];
            if v.contains('<') {
                return Err(format!("`<` in attribute {key}"));
            }
            check_text(v, &entity_ok)?;
            seen.push((key.to_string(), v.to_string()));
            attrs = &value[end + 2..];
        }
        if stack.is_empty() {
            roots += 1;
        }
        elements.push(Element {
            name: name.to_string(),
            attributes: seen,
        });
        if !empty {
            stack.push(name.to_string());
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

fn check_text(text: &str, entity_ok: &dyn Fn(&str) -> bool) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        if !entity_ok(&text[i + 1..]) {
            return Err(format!("bare `&` in {text:?}"));
        }
    }
    if text.contains('>') && text.contains("]]>") {
        return Err("`]]>` in text".into());
    }
    Ok(())
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let len = text[from..].find(end).unwrap();
    &text[from..from + len]
}

/// The absolute points of path data made of `M`, `L`, `H` and `V` commands.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut chars = d.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let start = i + c.len_utf8();
        let mut end = d.len();
        while let Some(&(j, n)) = chars.peek() {
            if n.is_ascii_alphabetic() {
                end = j;
                break;
            }
            chars.next();
        }
        let nums: Vec<f64> = d[start..end]
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let last = points.last().copied();
        let p = match (c, nums.as_slice()) {
            ('M' | 'L', [x, y]) => (*x, *y),
            ('H', [x]) => (*x, last.unwrap().1),
            ('V', [y]) => (last.unwrap().0, *y),
            _ => panic!("unexpected path command {c}{nums:?} in {d:?}"),
        };
        points.push(p);
    }
    points
}

#[test]
fn figures_are_well_formed_self_contained_accessible_and_small() {
    let mut total = 0;
    for path in FIGURES {
        assert!(path.starts_with(FIGURES_DIR));
        let svg = repo_text(path);
        total += svg.len();
        let elements = check_well_formed(&svg).unwrap_or_else(|e| panic!("{path}: {e}"));
        let names: Vec<&str> = elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["svg", "title", "desc"],
            "{path}: title and description first"
        );
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" "),
            "{path}"
        );
        assert!(svg.contains(" role=\"img\""), "{path}");
        assert!(between(&svg, "<title>", "</title>").len() > 10, "{path}");
        assert!(between(&svg, "<desc>", "</desc>").len() > 100, "{path}");
        // Self-contained: nothing to fetch or run, no stylesheet to leak into a page.
        for e in &elements {
            assert!(
                ["svg", "title", "desc", "g", "rect", "path", "polyline", "circle", "text",]
                    .contains(&e.name.as_str()),
                "{path}: unexpected element <{}>",
                e.name
            );
            for (key, value) in &e.attributes {
                assert!(
                    !key.starts_with("on") && !key.contains("href") && !value.contains("url("),
                    "{path}: <{} {key}=\"{value}\">",
                    e.name
                );
                if key == "font-size" {
                    let size: f64 = value.parse().unwrap();
                    assert!(
                        size >= 10.0,
                        "{path}: font-size {size} is too small to read"
                    );
                }
                // Coordinates are rounded to 0.1.
                if ["x", "y", "cx", "cy", "width", "height", "d", "points"].contains(&key.as_str())
                {
                    for number in value.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
                        let decimals = number.split('.').nth(1).map_or(0, str::len);
                        assert!(decimals <= 1, "{path}: {key}=\"{value}\"");
                    }
                }
            }
        }
    }
    assert!(
        total < BUDGET,
        "the figures take {total} bytes together; the budget is {BUDGET}"
    );
}

#[test]
fn printed_metrics_are_the_model_cards() {
    let card = card();
    let cv = &card["cross_validation"];
    let summary = |m: &str| {
        format!(
            "{:.3} ± {:.3}",
            cv[m]["mean"].as_f64().unwrap(),
            cv[m]["sd"].as_f64().unwrap()
        )
    };
    for (path, label, metric) in [
        (ROC_FILE, "ROC-AUC ", "roc_auc"),
        (CALIBRATION_FILE, "Brier score ", "brier"),
    ] {
        let svg = repo_text(path);
        let expected = summary(metric);
        let printed: Vec<&str> = svg
            .match_indices(label)
            .map(|(i, _)| &svg[i + label.len()..i + label.len() + expected.len()])
            .collect();
        assert!(
            printed.len() >= 3,
            "{path}: {label}in the title, the description and the heading"
        );
        for p in printed {
            assert_eq!(p, expected, "{path}: {label}is the card's {metric}");
        }
        assert!(
            between(&svg, "<title>", "</title>").contains(&expected),
            "{path}"
        );
    }

    // The calibration counts every out-of-fold prediction: each patient once per repeat.
    let rows = card["training_data"]["rows"].as_u64().unwrap();
    let repeats = cv["repeats"].as_u64().unwrap();
    let svg = repo_text(CALIBRATION_FILE);
    assert!(svg.contains(&format!(">{} out-of-fold predictions", rows * repeats)));

    // Every coefficient of the card, named as the card names it, with its value.
    let svg = repo_text(COEFFICIENTS_FILE);
    let desc = between(&svg, "<desc>", "</desc>");
    let mut n = 0;
    for feature in card["features"].as_array().unwrap() {
        for c in feature["coefficients"].as_array().unwrap() {
            let (column, w) = (c["column"].as_str().unwrap(), c["weight"].as_f64().unwrap());
            let value = format!("{}{:.2}", if w < 0.0 { '−' } else { '+' }, w.abs());
            assert!(svg.contains(&format!(">{column}</text>")), "label {column}");
            assert!(
                desc.contains(&format!("{column} {value}")),
                "{column} {value}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 22);
    // One bar per coefficient: 22 `z`-closed rectangles in the two bar paths.
    let bars: usize = svg
        .split("<path d=\"")
        .skip(1)
        .map(|p| &p[..p.find('"').unwrap()])
        .filter(|d| d.contains("v11H"))
        .map(|d| d.matches('z').count())
        .sum();
    assert_eq!(bars, 22);
}

#[test]
fn roc_curve_is_monotone_from_corner_to_corner_with_the_cards_area() {
    let svg = repo_text(ROC_FILE);
    let diagonal = path_points(between(&svg, "id=\"roc-diagonal\" d=\"", "\""));
    let [(x0, y0), (x1, y1)] = diagonal[..] else {
        panic!("the diagonal is one segment: {diagonal:?}")
    };
    let curve = path_points(between(&svg, "id=\"roc-curve\" d=\"", "\""));
    assert!(curve.len() <= 100, "{} points", curve.len());
    assert_eq!(curve.first(), Some(&(x0, y0)), "starts at (0, 0)");
    assert_eq!(curve.last(), Some(&(x1, y1)), "ends at (1, 1)");
    // SVG's y grows downwards.
    for w in curve.windows(2) {
        assert!(
            w[0].0 <= w[1].0 && w[0].1 >= w[1].1,
            "not monotone at {w:?}"
        );
    }
    let data: Vec<(f64, f64)> = curve
        .iter()
        .map(|&(x, y)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0)))
        .collect();
    let area = trainer::figures::area(&data);
    let auc = card()["cross_validation"]["roc_auc"]["mean"]
        .as_f64()
        .unwrap();
    assert!(
        (area - auc).abs() < 0.002,
        "area under the drawn curve {area} vs the card's ROC-AUC {auc}"
    );
}

#[test]
fn the_structural_check_catches_broken_xml() {
    for bad in [
        "<svg><g></svg>",
        "<svg a=\"1\" a=\"2\"/>",
        "<svg a=1/>",
        "<svg>&nbsp;</svg>",
        "<svg>a & b</svg>",
        "<svg/><svg/>",
        "<svg><text>x</g></svg>",
    ] {
        assert!(check_well_formed(bad).is_err(), "{bad}");
    }
    assert!(check_well_formed("<svg x=\"1\"><g><path d=\"M0 0\"/></g>&amp;&#177;</svg>\n").is_ok());
}
