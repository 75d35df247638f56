//! The model card's figures: ROC curve, calibration curve and coefficients, as small SVG files
//! in `model/figures/`, drawn from the cross-validation the trainer already runs.
//!
//! Written by hand rather than with a plotting crate: three simple charts need a few `format!`
//! calls, not a dependency tree; the bytes must be identical on every machine (a test compares
//! them with the committed files, like `model/artifact.rs`); and the files are baked into the
//! `.wasm`, so they must be small. Hence: coordinates rounded to 0.1 px, numbers printed with a
//! fixed number of decimals, shared styling inherited from `<g>` elements, no fonts, scripts,
//! stylesheets or links (only the generic `sans-serif` family). Each figure has a `<title>` and
//! a `<desc>` that states its numbers in words, for screen readers and for people who read the
//! file as text.

use std::fmt::Write;

use heart_model::schema::FEATURES;
use heart_model::LogisticModel;

use crate::cv::{CvMetrics, CvRun, CvScheme};

/// One figure: where it goes, what it shows (also listed in the model card) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Path relative to the repository's top.
    pub file: &'static str,
    /// One sentence for the model card.
    pub shows: &'static str,
    pub svg: String,
}

pub const ROC_FILE: &str = "model/figures/roc.svg";
pub const CALIBRATION_FILE: &str = "model/figures/calibration.svg";
pub const COEFFICIENTS_FILE: &str = "model/figures/coefficients.svg";

/// Number of equal-width probability bins of the calibration curve.
pub const CALIBRATION_BINS: usize = 10;

const INK: &str = "#222";
const MUTED: &str = "#555";
const GRID: &str = "#e3e3e3";
const MODEL: &str = "#0072b2";
/// Okabe–Ito vermillion and blue: distinguishable with the common colour-vision deficiencies
/// (and the sign is also the side of the zero line the bar is on).
const RAISES: &str = "#d55e00";
const LOWERS: &str = "#0072b2";

/// Side of the square plot area of the ROC and calibration figures, in px.
const SIDE: f64 = 280.0;
const LEFT: f64 = 52.0;
const TOP: f64 = 50.0;

/// Draws the three figures.
pub fn render_figures(model: &LogisticModel, cv: &CvRun, scheme: CvScheme) -> Vec<Figure> {
    vec![
        Figure {
            file: ROC_FILE,
            shows: "ROC curve: the vertical average of the cross-validation folds' ROC curves \
                    (its area is the mean fold ROC-AUC above), with the chance diagonal",
            svg: roc_svg(&cv.folds, &cv.metrics, scheme),
        },
        Figure {
            file: CALIBRATION_FILE,
            shows: "Calibration: all out-of-fold predictions in 10 equal-width probability bins, \
                    mean predicted probability against the observed frequency of disease, with \
                    the count per bin and the Brier score",
            svg: calibration_svg(&cv.folds, &cv.metrics, scheme),
        },
        Figure {
            file: COEFFICIENTS_FILE,
            shows: "The final model's 22 coefficients (log-odds per unit of the encoded input: \
                    one standard deviation, or a 0/1 column), largest first",
            svg: coefficients_svg(model),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// ROC

/// One fold's ROC curve as its vertices `(fpr, tpr)`, from (0, 0) to (1, 1); tied scores give
/// one diagonal segment, so the area under the polyline is the Mann–Whitney AUC.
pub fn roc_vertices(scored: &[(f64, bool)]) -> Vec<(f64, f64)> {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos = sorted.iter().filter(|s| s.1).count() as f64;
    let neg = sorted.len() as f64 - pos;
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = vec![(0.0, 0.0)];
    for (i, &(score, disease)) in sorted.iter().enumerate() {
        if disease {
            tp += 1;
        } else {
            fp += 1;
        }
        if sorted.get(i + 1).is_none_or(|next| next.0 != score) {
            out.push((fp as f64 / neg, tp as f64 / pos));
        }
    }
    out
}

/// The vertical average of the folds' ROC curves: at every false positive rate where some fold
/// has a vertex, the mean true positive rate just before and just after it. Each fold's curve
/// is linear between those rates, so this polyline is exactly the mean curve, and its area is
/// exactly the mean of the folds' AUCs.
pub fn mean_roc(folds: &[Vec<(f64, bool)>]) -> Vec<(f64, f64)> {
    let curves: Vec<Vec<(f64, f64)>> = folds.iter().map(|f| roc_vertices(f)).collect();
    let mut xs: Vec<f64> = curves.iter().flatten().map(|v| v.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let n = curves.len() as f64;
    let mut out = Vec::new();
    for &x in &xs {
        let (mut below, mut above) = (0.0, 0.0);
        for c in &curves {
            let (lo, hi) = tpr_at(c, x);
            below += lo;
            above += hi;
        }
        out.push((x, below / n));
        if above > below {
            out.push((x, above / n));
        }
    }
    out
}

/// The lowest and highest true positive rate of a curve at false positive rate `x`.
fn tpr_at(curve: &[(f64, f64)], x: f64) -> (f64, f64) {
    let first = curve.partition_point(|v| v.0 < x);
    let end = curve.partition_point(|v| v.0 <= x);
    if first < end {
        return (curve[first].1, curve[end - 1].1);
    }
    let (a, b) = (curve[first - 1], curve[first]);
    let y = a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0);
    (y, y)
}

/// Area under a polyline by the trapezoid rule.
pub fn area(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

fn roc_svg(folds: &[Vec<(f64, bool)>], m: &CvMetrics, scheme: CvScheme) -> String {
    let curve = mean_roc(folds);
    let at = |fpr: f64| tpr_at(&curve, fpr).1;
    let n = folds.len();
    let auc = format!("{:.3} ± {:.3}", m.roc_auc.mean, m.roc_auc.sd);
    let mut s = open(
        LEFT + SIDE + 28.0,
        TOP + SIDE + 48.0,
        &format!("ROC curve, ROC-AUC {auc}"),
        &format!(
            "Receiver operating characteristic of the logistic regression, from stratified \
             {}-fold cross-validation repeated {} times: the vertical average of the {n} folds' \
             curves. ROC-AUC {auc} (mean ± sd over the folds; the area under the drawn curve). \
             At a false positive rate of 0.1 the true positive rate is {:.2}; at 0.2, {:.2}; at \
             0.3, {:.2}. The dashed diagonal is a model that guesses.",
            scheme.folds,
            scheme.repeats,
            at(0.1),
            at(0.2),
            at(0.3)
        ),
    );
    heading(
        &mut s,
        &format!("ROC curve · ROC-AUC {auc}"),
        &format!(
            "mean of {n} folds ({}-fold CV × {} repeats)",
            scheme.folds, scheme.repeats
        ),
    );
    axes(
        &mut s,
        SIDE,
        "False positive rate (1 − specificity)",
        "True positive rate (sensitivity)",
    );
    let (x0, y1) = (LEFT, TOP + SIDE);
    let _ = write!(
        s,
        "<path id=\"roc-diagonal\" d=\"M{}L{}\" stroke=\"{MUTED}\" stroke-dasharray=\"5 4\"/>\
         <path id=\"roc-curve\" d=\"{}\" fill=\"none\" stroke=\"{MODEL}\" stroke-width=\"2.5\" \
         stroke-linejoin=\"round\"/>",
        xy(x0, y1),
        xy(x0 + SIDE, TOP),
        steps(curve.iter().map(|&(x, y)| (x0 + x * SIDE, y1 - y * SIDE))),
    );
    legend(
        &mut s,
        x0 + 118.0,
        y1 - 36.0,
        &[
            (
                format!("stroke=\"{MODEL}\" stroke-width=\"2.5\""),
                "model, mean of folds",
            ),
            (
                format!("stroke=\"{MUTED}\" stroke-dasharray=\"5 4\""),
                "chance",
            ),
        ],
    );
    s.push_str("</svg>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Calibration

/// One bin of the calibration curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub count: usize,
    pub mean_predicted: f64,
    pub observed: f64,
}

/// All out-of-fold predictions (each patient once per repeat) in equal-width bins.
pub fn calibration_bins(folds: &[Vec<(f64, bool)>]) -> Vec<Bin> {
    let mut sums = [(0usize, 0.0, 0usize); CALIBRATION_BINS];
    for &(p, disease) in folds.iter().flatten() {
        let k = ((p * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        sums[k].0 += 1;
        sums[k].1 += p;
        sums[k].2 += usize::from(disease);
    }
    sums.iter()
        .map(|&(count, p, pos)| Bin {
            count,
            mean_predicted: if count > 0 { p / count as f64 } else { 0.0 },
            observed: if count > 0 {
                pos as f64 / count as f64
            } else {
                0.0
            },
        })
        .collect()
}

fn calibration_svg(folds: &[Vec<(f64, bool)>], m: &CvMetrics, scheme: CvScheme) -> String {
    let bins = calibration_bins(folds);
    let total: usize = bins.iter().map(|b| b.count).sum();
    let brier = format!("{:.3} ± {:.3}", m.brier.mean, m.brier.sd);
    let strip = 40.0; // the histogram of counts under the plot
    let words: Vec<String> = bins
        .iter()
        .enumerate()
        .filter(|(_, b)| b.count > 0)
        .map(|(k, b)| {
            format!(
                "{:.1}–{:.1}: n {}, predicted {:.2}, observed {:.2}",
                k as f64 / CALIBRATION_BINS as f64,
                (k + 1) as f64 / CALIBRATION_BINS as f64,
                b.count,
                b.mean_predicted,
                b.observed
            )
        })
        .collect();
    let mut s = open(
        LEFT + SIDE + 28.0,
        TOP + SIDE + strip + 54.0,
        &format!("Calibration curve, Brier score {brier}"),
        &format!(
            "Reliability of the predicted probabilities: the {total} out-of-fold predictions of \
             stratified {}-fold cross-validation repeated {} times (each patient once per \
             repeat), in {CALIBRATION_BINS} equal-width bins; for each bin the mean predicted \
             probability against the observed frequency of disease, and the number of \
             predictions. Brier score {brier} (mean ± sd over the folds). Bins: {}. The dashed \
             diagonal is perfect calibration.",
            scheme.folds,
            scheme.repeats,
            words.join("; ")
        ),
    );
    heading(
        &mut s,
        &format!("Calibration · Brier score {brier}"),
        &format!("{total} out-of-fold predictions in {CALIBRATION_BINS} bins"),
    );
    // The plot's x axis is the histogram strip's: draw the plot without tick labels on x,
    // then the strip, then the labels under it.
    let (x0, y1) = (LEFT, TOP + SIDE);
    let sb = y1 + strip; // bottom of the strip
    axes_with(
        &mut s,
        SIDE,
        strip,
        "Mean predicted probability",
        "Observed frequency of disease",
    );
    let max = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let w = SIDE / CALIBRATION_BINS as f64;
    let mut bars = String::new();
    let mut counts = String::new();
    for (k, b) in bins.iter().enumerate() {
        let h = b.count as f64 / max * (strip - 16.0);
        let x = x0 + k as f64 * w;
        if b.count > 0 {
            let _ = write!(
                bars,
                "M{}V{}H{}V{}z",
                xy(x + 3.0, sb),
                num(sb - h),
                num(x + w - 3.0),
                num(sb)
            );
        }
        let _ = write!(
            counts,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            num(x + w / 2.0),
            num(sb - h - 3.0),
            b.count
        );
    }
    let _ = write!(
        s,
        "<path d=\"{bars}\" fill=\"#b9cfe0\"/><g font-size=\"10\" text-anchor=\"middle\" \
         fill=\"{MUTED}\">{counts}</g><text x=\"{}\" y=\"{}\" font-size=\"10\" \
         text-anchor=\"end\" fill=\"{MUTED}\">n</text>",
        num(x0 - 6.0),
        num(sb - 4.0)
    );
    let points: Vec<(f64, f64)> = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (x0 + b.mean_predicted * SIDE, y1 - b.observed * SIDE))
        .collect();
    let _ = write!(
        s,
        "<path d=\"M{}L{}\" stroke=\"{MUTED}\" stroke-dasharray=\"5 4\"/>\
         <polyline points=\"{}\" fill=\"none\" stroke=\"{MODEL}\" stroke-width=\"2\"/><g fill=\"{MODEL}\">",
        xy(x0, y1),
        xy(x0 + SIDE, TOP),
        polyline(points.iter().copied()),
    );
    for &(x, y) in &points {
        let _ = write!(s, "<circle cx=\"{}\" cy=\"{}\" r=\"4\"/>", num(x), num(y));
    }
    let _ = write!(
        s,
        "<circle cx=\"{}\" cy=\"{}\" r=\"4\"/></g>",
        num(x0 + 23.0),
        num(TOP + 14.0)
    );
    legend(
        &mut s,
        x0 + 12.0,
        TOP + 18.0,
        &[
            (
                format!("stroke=\"{MODEL}\" stroke-width=\"2\""),
                "observed, per bin",
            ),
            (
                format!("stroke=\"{MUTED}\" stroke-dasharray=\"5 4\""),
                "perfectly calibrated",
            ),
        ],
    );
    s.push_str("</svg>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Coefficients

/// The model's coefficients with the column names of the model card, largest first (ties in
/// column order).
pub fn coefficients(model: &LogisticModel) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = FEATURES
        .iter()
        .flat_map(|f| f.encoded_names())
        .zip(model.weights)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

fn coefficients_svg(model: &LogisticModel) -> String {
    let rows = coefficients(model);
    // Rows of bars right of the labels; the zero line sits where the most negative and the
    // most positive coefficient both fit, with room for their values at the bars' ends.
    let (row, top, label_end, plot_left, plot_right) = (17.0, 72.0, 92.0, 100.0, 420.0);
    let room = 40.0;
    let most_negative = rows.iter().map(|r| -r.1).fold(0.0, f64::max);
    let most_positive = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let span = (most_negative + most_positive).max(0.5);
    let per_unit = (plot_right - plot_left - 2.0 * room) / span;
    let zero = plot_left + room + most_negative * per_unit;
    let width = plot_right + 10.0;
    let bottom = top + row * rows.len() as f64;
    let height = bottom + 44.0;
    let sign = |w: f64| if w < 0.0 { '−' } else { '+' };
    let list = |ws: &mut dyn Iterator<Item = &(String, f64)>| {
        ws.map(|(n, w)| format!("{n} {}{:.2}", sign(*w), w.abs()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = open(
        width,
        height,
        &format!(
            "Coefficients of the logistic regression, {} inputs",
            rows.len()
        ),
        &format!(
            "Horizontal bars, one per model input, largest first; bars right of zero raise the \
             predicted risk, bars left of it lower it. Standardised inputs (age, trestbps, chol, \
             thalach, oldpeak, ca) per standard deviation, flags and one-hot columns per 0/1; \
             the one-hot columns of a feature are relative to each other. Raise the risk: {}. \
             Lower it: {}. Intercept {}{:.2}.",
            list(&mut rows.iter().filter(|r| r.1 >= 0.0)),
            list(&mut rows.iter().filter(|r| r.1 < 0.0)),
            sign(model.intercept),
            model.intercept.abs()
        ),
    );
    heading(
        &mut s,
        "Coefficients (log-odds)",
        "per SD of a standardised input, or per 0/1 column",
    );
    let _ = write!(
        s,
        "<g font-size=\"11\"><path d=\"M13 54h10v10h-10z\" fill=\"{RAISES}\"/><text x=\"27\" \
         y=\"63\">raises the risk</text><path d=\"M125 54h10v10h-10z\" fill=\"{LOWERS}\"/>\
         <text x=\"139\" y=\"63\">lowers it</text></g>"
    );
    // Grid and tick labels every 0.5 that fits.
    let mut grid = String::new();
    let mut ticks = String::new();
    let first = ((plot_left - zero) / per_unit / 0.5).ceil() as i64;
    let last = ((plot_right - zero) / per_unit / 0.5).floor() as i64;
    for k in first..=last {
        let v = k as f64 * 0.5;
        let x = zero + v * per_unit;
        if k != 0 {
            let _ = write!(grid, "M{}V{}", xy(x, top - 4.0), num(bottom));
        }
        let label = if k == 0 {
            "0".to_string()
        } else {
            format!("{}{:.1}", sign(v), v.abs())
        };
        let _ = write!(
            ticks,
            "<text x=\"{}\" y=\"{}\">{label}</text>",
            num(x),
            num(bottom + 16.0)
        );
    }
    let _ = write!(
        s,
        "<path d=\"{grid}\" stroke=\"{GRID}\"/><g font-size=\"11\" text-anchor=\"middle\" \
         fill=\"{MUTED}\">{ticks}</g><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">log-odds \
         coefficient</text>",
        num((plot_left + plot_right) / 2.0),
        num(bottom + 34.0)
    );
    let mut labels = String::new();
    let (mut up, mut down, mut up_values, mut down_values) =
        (String::new(), String::new(), String::new(), String::new());
    for (i, (name, w)) in rows.iter().enumerate() {
        let y = top + i as f64 * row;
        let base = y + row / 2.0 + 4.0; // text baseline, centred on the bar
        let _ = write!(
            labels,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            num(label_end),
            num(base),
            escape(name)
        );
        let end = zero + w * per_unit;
        let (bars, values, text_x) = if *w < 0.0 {
            (&mut down, &mut down_values, end - 4.0)
        } else {
            (&mut up, &mut up_values, end + 4.0)
        };
        let _ = write!(
            bars,
            "M{}H{}v11H{}z",
            xy(zero, y + 3.0),
            num(end),
            num(zero)
        );
        let _ = write!(
            values,
            "<text x=\"{}\" y=\"{}\">{}{:.2}</text>",
            num(text_x),
            num(base),
            sign(*w),
            w.abs()
        );
    }
    let _ = write!(
        s,
        "<g text-anchor=\"end\">{labels}</g><path d=\"{up}\" fill=\"{RAISES}\"/><path \
         d=\"{down}\" fill=\"{LOWERS}\"/><g font-size=\"11\" fill=\"{MUTED}\">{up_values}</g><g \
         font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"end\">{down_values}</g><path \
         d=\"M{}V{}\" stroke=\"{INK}\"/>",
        xy(zero, top - 4.0),
        num(bottom)
    );
    s.push_str("</svg>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

/// A coordinate rounded to 0.1, without a trailing `.0`.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r }; // no "-0"
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

fn xy(x: f64, y: f64) -> String {
    format!("{} {}", num(x), num(y))
}

/// Path data through the points, rounded: `H`/`V` for horizontal and vertical moves, `L`
/// otherwise; repeated points and the middle of three points on one horizontal or vertical
/// line are dropped.
fn steps(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (x, y) in points {
        let p = (num(x), num(y));
        if kept.last() == Some(&p) {
            continue;
        }
        if let [.., a, b] = kept.as_slice() {
            if (a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1) {
                kept.pop();
            }
        }
        kept.push(p);
    }
    let mut d = String::new();
    for (i, p) in kept.iter().enumerate() {
        match i.checked_sub(1).map(|j| &kept[j]) {
            None => d += &format!("M{} {}", p.0, p.1),
            Some(prev) if prev.1 == p.1 => d += &format!("H{}", p.0),
            Some(prev) if prev.0 == p.0 => d += &format!("V{}", p.1),
            Some(_) => d += &format!("L{} {}", p.0, p.1),
        }
    }
    d
}

/// `points` for a `<polyline>`, rounded, repeated points dropped.
fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut out: Vec<String> = Vec::new();
    for (x, y) in points {
        let p = format!("{},{}", num(x), num(y));
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out.join(" ")
}

/// Text content: `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `<svg>` start tag with its title and description; text inherits font and colour.
fn open(width: f64, height: f64, title: &str, desc: &str) -> String {
    let (w, h) = (num(width), num(height));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 \
         {w} {h}\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\" fill=\"{INK}\">\
         <title>{}</title><desc>{}</desc><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>",
        escape(title),
        escape(desc)
    )
}

fn heading(s: &mut String, title: &str, subtitle: &str) {
    let _ = write!(
        s,
        "<text x=\"13\" y=\"21\" font-size=\"15\" font-weight=\"bold\">{}</text><text x=\"13\" \
         y=\"39\" fill=\"{MUTED}\">{}</text>",
        escape(title),
        escape(subtitle)
    );
}

fn axes(s: &mut String, side: f64, x_label: &str, y_label: &str) {
    axes_with(s, side, 0.0, x_label, y_label)
}

/// The square plot frame at (`LEFT`, `TOP`) with grid lines and tick labels every 0.2 on both
/// axes (x labels `below` px further down) and the axis titles.
fn axes_with(s: &mut String, side: f64, below: f64, x_label: &str, y_label: &str) {
    let (x0, y1) = (LEFT, TOP + side);
    let mut grid = String::new();
    let mut xt = String::new();
    let mut yt = String::new();
    for k in 0..=5 {
        let v = k as f64 / 5.0;
        let (x, y) = (x0 + v * side, y1 - v * side);
        if k > 0 && k < 5 {
            let _ = write!(
                grid,
                "M{}V{}M{}H{}",
                xy(x, TOP),
                num(y1),
                xy(x0, y),
                num(x0 + side)
            );
        }
        if k == 0 && below > 0.0 {
            // the plot's bottom edge, above the strip
            let _ = write!(grid, "M{}H{}", xy(x0, y1), num(x0 + side));
        }
        let label = if k == 0 || k == 5 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
        let _ = write!(
            xt,
            "<text x=\"{}\" y=\"{}\">{label}</text>",
            num(x),
            num(y1 + below + 16.0)
        );
        let _ = write!(
            yt,
            "<text x=\"{}\" y=\"{}\">{label}</text>",
            num(x0 - 6.0),
            num(y + 4.0)
        );
    }
    let _ = write!(
        s,
        "<path d=\"{grid}\" stroke=\"{GRID}\"/><rect x=\"{}\" y=\"{}\" width=\"{}\" \
         height=\"{}\" fill=\"none\" stroke=\"{MUTED}\"/><g font-size=\"11\" fill=\"{MUTED}\">\
         <g text-anchor=\"middle\">{xt}</g><g text-anchor=\"end\">{yt}</g></g><text x=\"{}\" \
         y=\"{}\" text-anchor=\"middle\">{}</text><text transform=\"rotate(-90)\" x=\"{}\" \
         y=\"14\" text-anchor=\"middle\">{}</text>",
        num(x0),
        num(TOP),
        num(side),
        num(side + below),
        num(x0 + side / 2.0),
        num(y1 + below + 34.0),
        escape(x_label),
        num(-(TOP + side / 2.0)),
        escape(y_label)
    );
}

/// Legend entries, each a short line sample (`stroke` attributes) and a label, from (x, y).
fn legend(s: &mut String, x: f64, y: f64, entries: &[(String, &str)]) {
    for (i, (stroke, label)) in entries.iter().enumerate() {
        let y = y + i as f64 * 18.0;
        let _ = write!(
            s,
            "<path d=\"M{}h22\" {stroke}/><text x=\"{}\" y=\"{}\">{}</text>",
            xy(x, y - 4.0),
            num(x + 28.0),
            num(y),
            escape(label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_vertices_handle_ties_and_give_the_mann_whitney_auc() {
        let scored = [
            (0.9, true),
            (0.7, true),
            (0.7, false),
            (0.4, true),
            (0.2, false),
            (0.1, false),
        ];
        let v = roc_vertices(&scored);
        assert_eq!(v.first(), Some(&(0.0, 0.0)));
        assert_eq!(v.last(), Some(&(1.0, 1.0)));
        assert!((area(&v) - crate::cv::roc_auc(&scored)).abs() < 1e-15);
    }

    #[test]
    fn the_mean_curve_has_the_mean_area() {
        let folds = vec![
            vec![(0.9, true), (0.6, false), (0.5, true), (0.1, false)],
            vec![
                (0.8, true),
                (0.3, true),
                (0.3, false),
                (0.2, false),
                (0.7, false),
            ],
            vec![(0.4, false), (0.6, true), (0.5, true)],
        ];
        let mean: f64 =
            folds.iter().map(|f| crate::cv::roc_auc(f)).sum::<f64>() / folds.len() as f64;
        let curve = mean_roc(&folds);
        assert_eq!(curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(curve.last(), Some(&(1.0, 1.0)));
        assert!(curve
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!((area(&curve) - mean).abs() < 1e-12, "{}", area(&curve));
    }

    #[test]
    fn coordinates_are_short_and_stable() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.04), "12");
        assert_eq!(num(12.06), "12.1");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(-3.25), "-3.3");
    }

    #[test]
    fn bins_cover_zero_to_one() {
        let bins =
            calibration_bins(&[vec![(0.0, false), (0.05, true), (1.0, true), (0.55, false)]]);
        assert_eq!(bins[0].count, 2);
        assert_eq!(bins[9].count, 1);
        assert_eq!(bins[5].count, 1);
        assert_eq!(bins[0].observed, 0.5);
    }
}
