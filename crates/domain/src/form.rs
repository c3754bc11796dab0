//! Report forms (biểu mẫu): the indicators a report carries, how often it is
//! due and who owes it. A form is edited as a draft and frozen into numbered
//! versions; reports always name the version they follow, so a published
//! version never changes.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::directory::OrganKind;
use crate::error::Violations;
use crate::period::{Period, Periodicity, WindowRule};
use crate::recommendation::{TOPIC_LABEL_RULE, is_topic_label};
use crate::text::check_free_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    Integer,
    Decimal,
    Percent,
    MoneyVnd,
    Text,
    Boolean,
}

impl ValueType {
    pub fn is_numeric(self) -> bool {
        !matches!(self, ValueType::Text | ValueType::Boolean)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Integer => "INTEGER",
            ValueType::Decimal => "DECIMAL",
            ValueType::Percent => "PERCENT",
            ValueType::MoneyVnd => "MONEY_VND",
            ValueType::Text => "TEXT",
            ValueType::Boolean => "BOOLEAN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aggregation {
    Sum,
    Avg,
    Min,
    Max,
    Last,
    /// A percentage recomputed from its summed numerator and denominator.
    Ratio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparison {
    LessThan,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    GreaterThan,
}

impl Comparison {
    pub fn holds(self, left: Decimal, right: Decimal) -> bool {
        match self {
            Comparison::LessThan => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Equal => left == right,
            Comparison::GreaterOrEqual => left >= right,
            Comparison::GreaterThan => left > right,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::LessThan => "<",
            Comparison::LessOrEqual => "≤",
            Comparison::Equal => "=",
            Comparison::GreaterOrEqual => "≥",
            Comparison::GreaterThan => ">",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub value_type: ValueType,
    pub aggregation: Aggregation,
    pub required: bool,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    /// PERCENT only: the part and the whole the percentage is computed from.
    pub ratio_of: Option<RatioOf>,
    pub description: String,
    /// Recommendation topics this indicator measures ("staffing"): the
    /// dossier shows its figures beside matters of those topics.
    #[serde(default)]
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatioOf {
    pub numerator: String,
    pub denominator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRule {
    pub left: String,
    pub comparison: Comparison,
    pub right: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDefinition {
    pub title: String,
    pub description: String,
    pub owner_organ: String,
    pub periodicity: Periodicity,
    pub window_rule: WindowRule,
    pub deadline_days_after_cutoff: u16,
    pub reporting_organ_kinds: Vec<OrganKind>,
    /// The first period owed; `None` for ad-hoc forms.
    pub first_period: Option<Period>,
    pub indicators: Vec<Indicator>,
    pub rules: Vec<ValidationRule>,
}

impl FormDefinition {
    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|indicator| indicator.code == code)
    }

    /// Whether an organ of this kind owes this form.
    pub fn is_owed_by(&self, kind: OrganKind) -> bool {
        self.reporting_organ_kinds.contains(&kind)
    }

    /// Checks everything that can be checked without the store (the owner
    /// organ's existence is checked by the caller). Field paths are relative to
    /// `prefix`, e.g. `draft`.
    pub fn validate(&self, prefix: &str) -> Violations {
        let mut violations = Violations::new();
        let field = |name: &str| format!("{prefix}.{name}");
        if self.title.trim().is_empty() {
            violations.add(field("title"), "a form needs a title");
        }
        check_free_text(&field("title"), &self.title, 500, &mut violations);
        if self.reporting_organ_kinds.is_empty() {
            violations.add(
                field("reporting_organ_kinds"),
                "name at least one organ kind that reports",
            );
        }
        if self.reporting_organ_kinds.contains(&OrganKind::Department) {
            violations.add(
                field("reporting_organ_kinds"),
                "departments receive reports; only commune-level organs report",
            );
        }
        if self.deadline_days_after_cutoff > 366 {
            violations.add(field("deadline_days_after_cutoff"), "at most 366 days");
        }
        match (self.periodicity, self.first_period) {
            (Periodicity::AdHoc, Some(_)) => {
                violations.add(field("first_period"), "ad-hoc forms have no first period");
            }
            (Periodicity::AdHoc, None) => {}
            (_, None) => violations.add(field("first_period"), "periodic forms need a first period"),
            (periodicity, Some(first)) if first.periodicity() != periodicity => violations.add(
                field("first_period"),
                format!("{first} is not a {periodicity:?} period"),
            ),
            _ => {}
        }
        if self.indicators.is_empty() {
            violations.add(field("indicators"), "a form needs at least one indicator");
        }
        if self.indicators.len() > 500 {
            violations.add(field("indicators"), "at most 500 indicators");
        }
        for (index, indicator) in self.indicators.iter().enumerate() {
            let field = |name: &str| format!("{prefix}.indicators[{index}].{name}");
            if !is_indicator_code(&indicator.code) {
                violations.add(
                    field("code"),
                    "lower-case letters, digits and underscores, starting with a letter, at most 64",
                );
            }
            if self.indicators[..index]
                .iter()
                .any(|earlier| earlier.code == indicator.code)
            {
                violations.add(field("code"), format!("{} appears twice", indicator.code));
            }
            if indicator.name.trim().is_empty() {
                violations.add(field("display_name"), "an indicator needs a name");
            }
            self.validate_aggregation(indicator, &field, &mut violations);
            if let (Some(min), Some(max)) = (indicator.min, indicator.max)
                && min > max
            {
                violations.add(field("min"), format!("min {min} is above max {max}"));
            }
            if !indicator.value_type.is_numeric() && (indicator.min.is_some() || indicator.max.is_some()) {
                violations.add(field("min"), "bounds apply to numeric indicators only");
            }
            for (topic_index, topic) in indicator.topics.iter().enumerate() {
                if !is_topic_label(topic) {
                    violations.add(field(&format!("topics[{topic_index}]")), TOPIC_LABEL_RULE);
                }
            }
            if !indicator.topics.is_empty() && !indicator.value_type.is_numeric() {
                violations.add(field("topics"), "only numeric indicators serve as evidence");
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            for (side, code) in [("left_indicator", &rule.left), ("right_indicator", &rule.right)] {
                match self.indicator(code) {
                    None => violations.add(
                        format!("{prefix}.rules[{index}].{side}"),
                        format!("unknown indicator {code:?}"),
                    ),
                    Some(indicator) if !indicator.value_type.is_numeric() => violations.add(
                        format!("{prefix}.rules[{index}].{side}"),
                        format!("{code} is not numeric"),
                    ),
                    Some(_) => {}
                }
            }
        }
        violations
    }

    fn validate_aggregation(
        &self,
        indicator: &Indicator,
        field: &dyn Fn(&str) -> String,
        violations: &mut Violations,
    ) {
        let is_percent = indicator.value_type == ValueType::Percent;
        match (&indicator.ratio_of, indicator.aggregation) {
            (Some(_), _) if !is_percent => {
                violations.add(
                    field("numerator_code"),
                    "only PERCENT indicators have a numerator",
                );
            }
            (Some(ratio), aggregation) => {
                if aggregation != Aggregation::Ratio {
                    violations.add(
                        field("aggregation"),
                        "a PERCENT with numerator and denominator rolls up as RATIO",
                    );
                }
                for (name, code) in [
                    ("numerator_code", &ratio.numerator),
                    ("denominator_code", &ratio.denominator),
                ] {
                    match self.indicator(code) {
                        Some(part)
                            if matches!(
                                part.value_type,
                                ValueType::Integer | ValueType::Decimal | ValueType::MoneyVnd
                            ) =>
                        {
                            if part.aggregation != Aggregation::Sum {
                                violations.add(field(name), format!("{code} must aggregate by SUM"));
                            }
                        }
                        Some(_) => violations.add(
                            field(name),
                            format!("{code} must be a numeric, non-percent indicator"),
                        ),
                        None => violations.add(field(name), format!("unknown indicator {code:?}")),
                    }
                }
            }
            (None, Aggregation::Ratio) => {
                violations.add(
                    field("aggregation"),
                    "RATIO needs a PERCENT with numerator and denominator",
                );
            }
            (None, aggregation) => {
                if !indicator.value_type.is_numeric() && aggregation != Aggregation::Last {
                    violations.add(
                        field("aggregation"),
                        "TEXT and BOOLEAN indicators aggregate by LAST",
                    );
                }
            }
        }
    }
}

/// Whether `code` is a valid indicator code.
pub fn is_indicator_code(code: &str) -> bool {
    let mut bytes = code.bytes();
    code.len() <= 64
        && bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Whether `code` is a valid form code: lower-case letters, digits and hyphens.
pub fn is_form_code(code: &str) -> bool {
    let mut bytes = code.bytes();
    (2..=64).contains(&code.len())
        && bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub code: String,
    pub draft: FormDefinition,
    /// 0 when never published.
    pub latest_version: u32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormVersion {
    pub form_code: String,
    pub version: u32,
    pub definition: FormDefinition,
    pub published_at: OffsetDateTime,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn integer(code: &str, required: bool) -> Indicator {
        Indicator {
            code: code.to_owned(),
            name: code.replace('_', " "),
            unit: "hồ sơ".to_owned(),
            value_type: ValueType::Integer,
            aggregation: Aggregation::Sum,
            required,
            min: Some(Decimal::ZERO),
            max: None,
            ratio_of: None,
            description: String::new(),
            topics: Vec::new(),
        }
    }

    pub(crate) fn sample_definition() -> FormDefinition {
        FormDefinition {
            title: "TTHC".to_owned(),
            description: String::new(),
            owner_organ: "01-public-service-centre".to_owned(),
            periodicity: Periodicity::Monthly,
            window_rule: WindowRule::Decree09,
            deadline_days_after_cutoff: 5,
            reporting_organ_kinds: vec![OrganKind::PeoplesCommittee],
            first_period: Some("2025-07".parse().expect("period")),
            indicators: vec![
                integer("dossiers_received", true),
                integer("dossiers_online", true),
                Indicator {
                    code: "online_rate".to_owned(),
                    name: "online rate".to_owned(),
                    unit: "%".to_owned(),
                    value_type: ValueType::Percent,
                    aggregation: Aggregation::Ratio,
                    required: false,
                    min: Some(Decimal::ZERO),
                    max: Some(Decimal::ONE_HUNDRED),
                    ratio_of: Some(RatioOf {
                        numerator: "dossiers_online".to_owned(),
                        denominator: "dossiers_received".to_owned(),
                    }),
                    description: String::new(),
                    topics: Vec::new(),
                },
            ],
            rules: vec![ValidationRule {
                left: "dossiers_online".to_owned(),
                comparison: Comparison::LessOrEqual,
                right: "dossiers_received".to_owned(),
                message: "online dossiers cannot exceed dossiers received".to_owned(),
            }],
        }
    }

    #[test]
    fn sample_definition_is_valid() {
        assert!(sample_definition().validate("draft").is_empty());
    }

    #[test]
    fn every_definition_problem_is_reported_at_once() {
        let mut definition = sample_definition();
        definition.title = " ".to_owned();
        definition.first_period = Some("2025-Q3".parse().expect("period"));
        definition.indicators[1].code = "dossiers_received".to_owned();
        definition.indicators[2].aggregation = Aggregation::Avg;
        definition.rules[0].right = "nope".to_owned();
        let violations = definition.validate("draft");
        let Err(crate::error::Error::InvalidArgument(list)) = violations.into_result() else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = list.iter().map(|v| v.field.as_str()).collect();
        assert!(fields.contains(&"draft.title"), "{fields:?}");
        assert!(fields.contains(&"draft.first_period"), "{fields:?}");
        assert!(fields.contains(&"draft.indicators[1].code"), "{fields:?}");
        assert!(fields.contains(&"draft.indicators[2].aggregation"), "{fields:?}");
        assert!(fields.contains(&"draft.rules[0].right_indicator"), "{fields:?}");
    }

    #[test]
    fn indicator_topics_are_labels_on_numeric_indicators() {
        let mut definition = sample_definition();
        definition.indicators[0].topics = vec!["staffing".to_owned(), "Bad Topic".to_owned()];
        definition.indicators.push(Indicator {
            value_type: ValueType::Text,
            aggregation: Aggregation::Last,
            min: None,
            topics: vec!["staffing".to_owned()],
            ..integer("note", false)
        });
        let Err(crate::error::Error::InvalidArgument(list)) = definition.validate("draft").into_result()
        else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = list.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["draft.indicators[0].topics[1]", "draft.indicators[3].topics"]
        );
    }

    #[test]
    fn codes_are_checked() {
        assert!(is_indicator_code("dossiers_received"));
        assert!(!is_indicator_code("Dossiers"));
        assert!(!is_indicator_code("1x"));
        assert!(is_form_code("tthc-monthly"));
        assert!(!is_form_code("TTHC"));
    }
}
