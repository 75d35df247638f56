//! Reads the UCI Cleveland file: 14 comma-separated columns, `?` for a missing value.

use heart_model::schema::N_FEATURES;
use heart_model::Patient;

/// One labelled row of the data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Example {
    pub patient: Patient,
    /// `num > 0`: any angiographic disease.
    pub disease: bool,
}

/// Parses the whole file; the error names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<Example>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

fn parse_line(line: &str) -> Result<Example, String> {
    let cells: Vec<&str> = line.trim().split(',').collect();
    if cells.len() != N_FEATURES + 1 {
        return Err(format!(
            "expected {} columns, found {}",
            N_FEATURES + 1,
            cells.len()
        ));
    }
    let mut values = [None; N_FEATURES];
    for (slot, cell) in values.iter_mut().zip(&cells) {
        *slot = number(cell)?;
    }
    let num = number(cells[N_FEATURES])?.ok_or("the target `num` is missing")?;
    let patient = Patient::from_values(values).map_err(|errors| {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.reason))
            .collect();
        parts.join("; ")
    })?;
    Ok(Example {
        patient,
        disease: num > 0.0,
    })
}

fn number(cell: &str) -> Result<Option<f64>, String> {
    match cell.trim() {
        "?" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{s:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_with_missing_values() {
        let rows = parse(
            "63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\n\
                          53.0,0.0,3.0,128.0,216.0,0.0,2.0,115.0,0.0,0.0,1.0,0.0,?,2\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(!rows[0].disease && rows[1].disease);
        assert_eq!(rows[1].patient.get(12), None);
    }

    #[test]
    fn reports_the_line_of_a_bad_row() {
        let err = parse("63.0,1.0\n").unwrap_err();
        assert!(err.starts_with("line 1: expected 14 columns"), "{err}");
        let err =
            parse("63.0,1.0,9.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\n").unwrap_err();
        assert!(err.contains("/cp must be one of 1, 2, 3, 4"), "{err}");
    }
}
