//! The feature table: the one place that names the 13 UCI Cleveland features, says what each
//! means, which values are valid and how each is encoded for the model.
//!
//! Validation, encoding, the model card, the trainer's data parser and the API documentation
//! all read this table, so a feature cannot mean one thing in one place and another elsewhere.

/// Which values a feature accepts on the wire (and in the training data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Domain {
    /// A measurement between `min` and `max` inclusive; `integer` demands a whole number.
    Range { min: f64, max: f64, integer: bool },
    /// A code from a fixed list (UCI's own codes, e.g. `thal` 3, 6 or 7).
    Levels(&'static [f64]),
}

/// How a feature becomes model inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `(x - mean) / scale`, with mean and population standard deviation of the training data.
    Standardize,
    /// A 0/1 flag used as it is.
    Flag,
    /// One column per level of the feature's [`Domain::Levels`], 1 for the level present.
    OneHot,
}

/// One input feature of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feature {
    /// The UCI name, used on the wire.
    pub name: &'static str,
    /// What it means, for people (API docs, model card).
    pub description: &'static str,
    /// Unit of measurement, empty for codes and flags.
    pub unit: &'static str,
    pub domain: Domain,
    pub encoding: Encoding,
    /// `false` for the fields real records often lack (`slope`, `ca`, `thal`); when absent or
    /// `null` they are imputed with the training data's most frequent value.
    pub required: bool,
}

const FLAG: Domain = Domain::Levels(&[0.0, 1.0]);

/// The 13 features, in UCI column order (the order of the data file and of the model).
pub const FEATURES: [Feature; 13] = [
    Feature {
        name: "age",
        description: "Age",
        unit: "years",
        domain: Domain::Range { min: 18.0, max: 120.0, integer: false },
        encoding: Encoding::Standardize,
        required: true,
    },
    Feature {
        name: "sex",
        description: "Sex: 1 = male, 0 = female",
        unit: "",
        domain: FLAG,
        encoding: Encoding::Flag,
        required: true,
    },
    Feature {
        name: "cp",
        description: "Chest pain type: 1 = typical angina, 2 = atypical angina, 3 = non-anginal pain, 4 = asymptomatic",
        unit: "",
        domain: Domain::Levels(&[1.0, 2.0, 3.0, 4.0]),
        encoding: Encoding::OneHot,
        required: true,
    },
    Feature {
        name: "trestbps",
        description: "Resting blood pressure on admission",
        unit: "mm Hg",
        domain: Domain::Range { min: 50.0, max: 250.0, integer: false },
        encoding: Encoding::Standardize,
        required: true,
    },
    Feature {
        name: "chol",
        description: "Serum cholesterol",
        unit: "mg/dl",
        domain: Domain::Range { min: 50.0, max: 800.0, integer: false },
        encoding: Encoding::Standardize,
        required: true,
    },
    Feature {
        name: "fbs",
        description: "Fasting blood sugar > 120 mg/dl: 1 = true, 0 = false",
        unit: "",
        domain: FLAG,
        encoding: Encoding::Flag,
        required: true,
    },
    Feature {
        name: "restecg",
        description: "Resting electrocardiographic results: 0 = normal, 1 = ST-T wave abnormality, 2 = probable or definite left ventricular hypertrophy",
        unit: "",
        domain: Domain::Levels(&[0.0, 1.0, 2.0]),
        encoding: Encoding::OneHot,
        required: true,
    },
    Feature {
        name: "thalach",
        description: "Maximum heart rate achieved",
        unit: "beats/min",
        domain: Domain::Range { min: 40.0, max: 250.0, integer: false },
        encoding: Encoding::Standardize,
        required: true,
    },
    Feature {
        name: "exang",
        description: "Exercise-induced angina: 1 = yes, 0 = no",
        unit: "",
        domain: FLAG,
        encoding: Encoding::Flag,
        required: true,
    },
    Feature {
        name: "oldpeak",
        description: "ST depression induced by exercise relative to rest",
        unit: "mm",
        domain: Domain::Range { min: 0.0, max: 10.0, integer: false },
        encoding: Encoding::Standardize,
        required: true,
    },
    Feature {
        name: "slope",
        description: "Slope of the peak exercise ST segment: 1 = upsloping, 2 = flat, 3 = downsloping",
        unit: "",
        domain: Domain::Levels(&[1.0, 2.0, 3.0]),
        encoding: Encoding::OneHot,
        required: false,
    },
    Feature {
        name: "ca",
        description: "Number of major vessels (0-3) coloured by fluoroscopy",
        unit: "vessels",
        domain: Domain::Range { min: 0.0, max: 3.0, integer: true },
        encoding: Encoding::Standardize,
        required: false,
    },
    Feature {
        name: "thal",
        description: "Thallium stress test: 3 = normal, 6 = fixed defect, 7 = reversible defect",
        unit: "",
        domain: Domain::Levels(&[3.0, 6.0, 7.0]),
        encoding: Encoding::OneHot,
        required: false,
    },
];

/// The data set's first patient (UCI Cleveland, row 1), in feature order: the example in the
/// API documentation, and the patient the tests and benchmarks start from.
pub const EXAMPLE: [f64; 13] = [
    63.0, 1.0, 1.0, 145.0, 233.0, 1.0, 2.0, 150.0, 0.0, 2.3, 3.0, 0.0, 6.0,
];

/// Number of features on the wire.
pub const N_FEATURES: usize = FEATURES.len();

/// Number of model inputs after encoding (one-hot features take one column per level).
pub const N_ENCODED: usize = encoded_len();

const fn encoded_len() -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < N_FEATURES {
        total += FEATURES[i].width();
        i += 1;
    }
    total
}

impl Feature {
    /// How many model inputs this feature becomes.
    pub const fn width(&self) -> usize {
        match (self.encoding, self.domain) {
            (Encoding::OneHot, Domain::Levels(levels)) => levels.len(),
            _ => 1,
        }
    }

    /// Whether the feature takes at most four values (a code, a flag, a small count), so its
    /// contribution to the logit takes at most four too.
    pub fn has_few_values(&self) -> bool {
        match self.domain {
            Domain::Levels(levels) => levels.len() <= 4,
            Domain::Range { min, max, integer } => integer && max - min < 4.0,
        }
    }

    /// Whether `x` is a value this feature accepts.
    pub fn accepts(&self, x: f64) -> bool {
        match self.domain {
            Domain::Range { min, max, integer } => {
                (min..=max).contains(&x) && (!integer || x.fract() == 0.0)
            }
            Domain::Levels(levels) => levels.contains(&x),
        }
    }

    /// Checks one value of this feature: `None` is a missing value, accepted only for an
    /// optional feature (the model imputes it). The error says what is accepted instead.
    pub fn check(&self, value: Option<f64>) -> Result<(), String> {
        match value {
            None if self.required => Err(format!("is required and {}", self.rule())),
            None => Ok(()),
            Some(x) if !x.is_finite() => {
                Err(format!("must be a finite number; it {}", self.rule()))
            }
            Some(x) if self.accepts(x) => Ok(()),
            Some(x) => Err(format!("{} (got {x})", self.rule())),
        }
    }

    /// The rule of [`Feature::accepts`] in words, for error messages and documentation.
    pub fn rule(&self) -> String {
        match self.domain {
            Domain::Range {
                min,
                max,
                integer: true,
            } => {
                format!("must be a whole number from {min} to {max}")
            }
            Domain::Range {
                min,
                max,
                integer: false,
            } => {
                format!("must be a number from {min} to {max}")
            }
            Domain::Levels(levels) => {
                let codes: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
                format!("must be one of {}", codes.join(", "))
            }
        }
    }

    /// Names of this feature's model inputs: `age` for one column, `cp=1`, `cp=2`, … for one-hot.
    pub fn encoded_names(&self) -> Vec<String> {
        match (self.encoding, self.domain) {
            (Encoding::OneHot, Domain::Levels(levels)) => levels
                .iter()
                .map(|l| format!("{}={l}", self.name))
                .collect(),
            _ => vec![self.name.to_string()],
        }
    }
}

/// Index of a feature by its wire name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_features_have_levels_and_widths_add_up() {
        for f in &FEATURES {
            if f.encoding == Encoding::OneHot {
                assert!(
                    matches!(f.domain, Domain::Levels(_)),
                    "{} is one-hot without levels",
                    f.name
                );
            }
        }
        let names: usize = FEATURES.iter().map(|f| f.encoded_names().len()).sum();
        assert_eq!(names, N_ENCODED);
        assert_eq!(N_ENCODED, 6 + 3 + 4 + 3 + 3 + 3);
    }

    #[test]
    fn rules_match_accepts() {
        let ca = &FEATURES[feature_index("ca").unwrap()];
        assert!(ca.accepts(2.0) && !ca.accepts(2.5) && !ca.accepts(4.0));
        assert_eq!(ca.rule(), "must be a whole number from 0 to 3");
        let thal = &FEATURES[feature_index("thal").unwrap()];
        assert!(thal.accepts(7.0) && !thal.accepts(5.0));
        assert_eq!(thal.rule(), "must be one of 3, 6, 7");
        assert!(!FEATURES[0].accepts(f64::NAN));
    }
}
