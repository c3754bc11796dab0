//! Reports and their revisions, and the validation of submitted values
//! against a form version. Validation collects every problem so a commune's
//! system can fix all of them in one round trip.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Violations;
use crate::form::{FormDefinition, Indicator, ValueType};
use crate::period::Period;
use crate::text::free_text_problem;

/// Longest narrative accepted, in characters.
pub const MAX_NARRATIVE_CHARS: usize = 20_000;
/// Longest TEXT indicator value accepted, in characters.
pub const MAX_TEXT_VALUE_CHARS: usize = 4_000;
/// How far a submitted percentage may stray from the one its numerator and
/// denominator give (reports round to one decimal place).
const PERCENT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 1);

/// A value as the caller sent it, before it is checked against the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RawValue {
    Integer(i64),
    Decimal(String),
    MoneyVnd(i64),
    Text(String),
    Boolean(bool),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueInput {
    pub indicator_code: String,
    /// `None` when the caller named the indicator but set no value.
    pub value: Option<RawValue>,
}

/// A checked value of the type its indicator declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Integer(i64),
    /// DECIMAL and PERCENT values.
    Decimal(Decimal),
    MoneyVnd(i64),
    Text(String),
    Boolean(bool),
}

impl Value {
    /// The numeric value, for bounds, rules and roll-ups.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Integer(number) | Value::MoneyVnd(number) => Some(Decimal::from(*number)),
            Value::Decimal(number) => Some(*number),
            Value::Text(_) | Value::Boolean(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorValue {
    pub indicator_code: String,
    pub value: Value,
}

/// Checks `inputs` against a form definition and returns the values in the
/// form's indicator order, with percentages computed where left out. Every
/// violation is collected; field paths are `values[<indicator code>]`.
pub fn validate_values(
    definition: &FormDefinition,
    inputs: &[ValueInput],
) -> Result<Vec<IndicatorValue>, Violations> {
    let mut violations = Violations::new();
    let mut checked: Vec<IndicatorValue> = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let field = format!("values[{}]", input.indicator_code);
        let Some(indicator) = definition.indicator(&input.indicator_code) else {
            violations.add(
                format!("values[{index}].indicator_code"),
                format!("unknown indicator {:?} for this form", input.indicator_code),
            );
            continue;
        };
        if inputs[..index]
            .iter()
            .any(|earlier| earlier.indicator_code == input.indicator_code)
        {
            violations.add(field, "the indicator is given twice");
            continue;
        }
        let Some(raw) = &input.value else {
            violations.add(field, "no value set");
            continue;
        };
        match check_value(indicator, raw) {
            Ok(value) => checked.push(IndicatorValue {
                indicator_code: indicator.code.clone(),
                value,
            }),
            Err(reason) => violations.add(field, reason),
        }
    }

    complete_percentages(definition, &mut checked, &mut violations);

    for indicator in &definition.indicators {
        if indicator.required
            && !checked.iter().any(|value| value.indicator_code == indicator.code)
            && !inputs.iter().any(|input| input.indicator_code == indicator.code)
        {
            violations.add(format!("values[{}]", indicator.code), "required value missing");
        }
    }

    let numeric = |code: &str| {
        checked
            .iter()
            .find(|value| value.indicator_code == code)
            .and_then(|value| value.value.as_decimal())
    };
    for rule in &definition.rules {
        if let (Some(left), Some(right)) = (numeric(&rule.left), numeric(&rule.right))
            && !rule.comparison.holds(left, right)
        {
            let message = if rule.message.is_empty() {
                format!(
                    "{} must be {} {}",
                    rule.left,
                    rule.comparison.symbol(),
                    rule.right
                )
            } else {
                rule.message.clone()
            };
            violations.add(
                format!("values[{}]", rule.left),
                format!("{message} ({left} {} {right} is false)", rule.comparison.symbol()),
            );
        }
    }

    if !violations.is_empty() {
        return Err(violations);
    }
    checked.sort_by_key(|value| {
        definition
            .indicators
            .iter()
            .position(|indicator| indicator.code == value.indicator_code)
    });
    Ok(checked)
}

fn check_value(indicator: &Indicator, raw: &RawValue) -> Result<Value, String> {
    let value = match (indicator.value_type, raw) {
        (ValueType::Integer, RawValue::Integer(number)) => Value::Integer(*number),
        (ValueType::MoneyVnd, RawValue::MoneyVnd(number)) => Value::MoneyVnd(*number),
        (ValueType::Decimal | ValueType::Percent, RawValue::Decimal(text)) => {
            Value::Decimal(parse_decimal(text)?)
        }
        (ValueType::Text, RawValue::Text(text)) => {
            if let Some(problem) = free_text_problem(text, MAX_TEXT_VALUE_CHARS) {
                return Err(problem);
            }
            Value::Text(text.clone())
        }
        (ValueType::Boolean, RawValue::Boolean(flag)) => Value::Boolean(*flag),
        (expected, _) => {
            return Err(format!(
                "{} is {}; set {}",
                indicator.code,
                expected.as_str(),
                value_field_for(expected)
            ));
        }
    };
    if let Some(number) = value.as_decimal() {
        if let Some(min) = indicator.min
            && number < min
        {
            return Err(format!("{number} is below the minimum {min}"));
        }
        if let Some(max) = indicator.max
            && number > max
        {
            return Err(format!("{number} is above the maximum {max}"));
        }
    }
    Ok(value)
}

/// The request field that carries a value of this type.
pub fn value_field_for(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Integer => "integer_value",
        ValueType::Decimal | ValueType::Percent => "decimal_value",
        ValueType::MoneyVnd => "money_vnd_value",
        ValueType::Text => "text_value",
        ValueType::Boolean => "boolean_value",
    }
}

/// Parses a plain decimal such as `-12.50`: no exponent, no thousands separators.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let well_formed = !text.is_empty()
        && text.len() <= 40
        && text.trim_start_matches('-').split('.').count() <= 2
        && text
            .trim_start_matches('-')
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
        && text
            .trim_start_matches('-')
            .bytes()
            .any(|byte| byte.is_ascii_digit());
    if !well_formed {
        return Err(format!("{text:?} is not a decimal number like \"12.5\""));
    }
    text.parse::<Decimal>()
        .map(|number| number.normalize())
        .map_err(|error| format!("{text:?} is not a decimal number: {error}"))
}

/// Fills in left-out percentages from their numerator and denominator, and
/// checks given ones against them.
fn complete_percentages(
    definition: &FormDefinition,
    checked: &mut Vec<IndicatorValue>,
    violations: &mut Violations,
) {
    for indicator in &definition.indicators {
        let Some(ratio) = &indicator.ratio_of else {
            continue;
        };
        let number = |code: &str| {
            checked
                .iter()
                .find(|value| value.indicator_code == code)
                .and_then(|value| value.value.as_decimal())
        };
        let (Some(numerator), Some(denominator)) = (number(&ratio.numerator), number(&ratio.denominator))
        else {
            continue;
        };
        if denominator.is_zero() {
            continue;
        }
        let computed = (numerator * Decimal::ONE_HUNDRED / denominator).round_dp(2);
        match checked
            .iter()
            .find(|value| value.indicator_code == indicator.code)
        {
            Some(given) => {
                if let Some(given_number) = given.value.as_decimal()
                    && (given_number - computed).abs() > PERCENT_TOLERANCE
                {
                    violations.add(
                        format!("values[{}]", indicator.code),
                        format!(
                            "{given_number}% disagrees with {} / {} = {computed}%",
                            ratio.numerator, ratio.denominator
                        ),
                    );
                }
            }
            None => checked.push(IndicatorValue {
                indicator_code: indicator.code.clone(),
                value: Value::Decimal(computed.normalize()),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportStatus {
    Submitted,
    Returned,
    Accepted,
}

impl ReportStatus {
    pub const ALL: [ReportStatus; 3] = [
        ReportStatus::Submitted,
        ReportStatus::Returned,
        ReportStatus::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Submitted => "SUBMITTED",
            ReportStatus::Returned => "RETURNED",
            ReportStatus::Accepted => "ACCEPTED",
        }
    }

    pub fn parse(text: &str) -> Option<ReportStatus> {
        ReportStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether a new revision may be added: a report under review or sent back.
    pub fn allows_amendment(self) -> bool {
        matches!(self, ReportStatus::Submitted | ReportStatus::Returned)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewDecision {
    Accept,
    Return,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub reviewer_organ: String,
    pub comment: String,
    pub reviewed_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub organ_id: String,
    pub locality_code: String,
    pub form_code: String,
    pub period: Period,
    pub status: ReportStatus,
    pub latest_revision: u32,
    /// Whether revision 1 arrived after the deadline.
    pub late: bool,
    pub deadline: OffsetDateTime,
    pub first_submitted_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_review: Option<Review>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRevision {
    pub report_id: i64,
    pub revision: u32,
    pub form_version: u32,
    pub values: Vec<IndicatorValue>,
    pub narrative: String,
    pub amendment_reason: String,
    pub submitted_at: OffsetDateTime,
    pub late: bool,
    /// The token that recorded the revision, for the audit trail.
    pub submitted_by_token: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::tests::sample_definition;

    fn input(code: &str, value: RawValue) -> ValueInput {
        ValueInput {
            indicator_code: code.to_owned(),
            value: Some(value),
        }
    }

    #[test]
    fn valid_values_come_back_in_form_order_with_the_percentage_computed() {
        let values = validate_values(
            &sample_definition(),
            &[
                input("dossiers_online", RawValue::Integer(75)),
                input("dossiers_received", RawValue::Integer(532)),
            ],
        )
        .expect("valid");
        let codes: Vec<&str> = values.iter().map(|v| v.indicator_code.as_str()).collect();
        assert_eq!(codes, ["dossiers_received", "dossiers_online", "online_rate"]);
        assert_eq!(values[2].value, Value::Decimal("14.1".parse().expect("decimal")));
    }

    #[test]
    fn every_kind_of_violation_is_reported_at_once() {
        let violations = validate_values(
            &sample_definition(),
            &[
                input("dossiers_online", RawValue::Integer(-1)),
                input("unknown_code", RawValue::Integer(1)),
                input("online_rate", RawValue::Integer(3)),
            ],
        )
        .expect_err("invalid");
        let Err(crate::Error::InvalidArgument(list)) = violations.into_result() else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = list.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "values[dossiers_online]",
                "values[1].indicator_code",
                "values[online_rate]",
                "values[dossiers_received]"
            ]
        );
        assert!(
            list[2].description.contains("decimal_value"),
            "{}",
            list[2].description
        );
    }

    #[test]
    fn rules_and_percent_agreement_are_checked() {
        let violations = validate_values(
            &sample_definition(),
            &[
                input("dossiers_received", RawValue::Integer(10)),
                input("dossiers_online", RawValue::Integer(20)),
                input("online_rate", RawValue::Decimal("50".to_owned())),
            ],
        )
        .expect_err("invalid");
        let Err(crate::Error::InvalidArgument(list)) = violations.into_result() else {
            panic!("expected violations");
        };
        assert_eq!(list.len(), 2, "{list:?}");
        assert!(
            list.iter()
                .any(|v| v.field == "values[dossiers_online]" && v.description.contains("cannot exceed"))
        );
        assert!(
            list.iter()
                .any(|v| v.field == "values[online_rate]" && v.description.contains("disagrees"))
        );
        let above = validate_values(
            &sample_definition(),
            &[input("online_rate", RawValue::Decimal("150".to_owned()))],
        )
        .expect_err("out of range");
        let Err(crate::Error::InvalidArgument(list)) = above.into_result() else {
            panic!("expected violations");
        };
        assert!(
            list.iter()
                .any(|v| v.field == "values[online_rate]" && v.description.contains("above the maximum"))
        );
    }

    #[test]
    fn decimals_are_parsed_strictly() {
        assert_eq!(parse_decimal("12.50"), Ok("12.5".parse().expect("decimal")));
        assert_eq!(parse_decimal("-3"), Ok(Decimal::from(-3)));
        for bad in ["", "1e5", "1,5", "1.2.3", "-", ".", " 1", "NaN"] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} accepted");
        }
    }
}
