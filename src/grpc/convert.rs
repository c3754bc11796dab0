//! Conversions between the generated contract types and the domain. Incoming
//! messages are checked here only as far as their shape goes (enum values,
//! decimal strings, resource names); meaning is checked by the domain.

use lienthong_domain::directory::{Bloc, Locality, LocalityKind, Organ, OrganKind};
use lienthong_domain::error::{Error, Result, Violations};
use lienthong_domain::form::{
    Aggregation, Comparison, Form, FormDefinition, FormVersion, Indicator, RatioOf, ValidationRule, ValueType,
};
use lienthong_domain::period::{Periodicity, WindowRule};
use lienthong_domain::recommendation::{
    Cluster, ClusterAnswer, ClusterDecision, ClusterStatus, DedupOutcome, RankedCluster, Recommendation,
    RecommendationEvent, RecordedDecision,
};
use lienthong_domain::report::{
    IndicatorValue, RawValue, Report, ReportRevision, ReportStatus, ReviewDecision, Value, ValueInput,
    parse_decimal,
};
use lienthong_domain::service::{
    Completeness, Obligation, ObligationStatus, RecommendationView, SimilarRecommendation, cluster_name,
    recommendation_name, report_name, revision_name,
};
use prost_types::Timestamp;
use time::OffsetDateTime;

use crate::proto;

pub fn timestamp(instant: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: i32::try_from(instant.nanosecond()).unwrap_or(0),
    }
}

pub fn from_timestamp(field: &str, value: &Timestamp) -> Result<OffsetDateTime> {
    // As google.protobuf.Timestamp defines it; a client library never sends
    // other nanos, so they are a caller's mistake, not a time to normalise.
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(Error::invalid(field, "nanos must be from 0 to 999 999 999"));
    }
    let nanos = i128::from(value.seconds) * 1_000_000_000 + i128::from(value.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| Error::invalid(field, "timestamp out of range"))
}

/// The id in a resource name such as `organs/{id}`.
pub fn name_id<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| Error::invalid(field, format!("expected `{collection}/{{id}}`, got {name:?}")))
}

/// Parses `reports/{id}` into the numeric id.
pub fn report_id(field: &str, name: &str) -> Result<i64> {
    id_in_name(field, name, "reports")
}

/// The numeric id in a resource name such as `clusters/{id}`.
pub fn id_in_name(field: &str, name: &str, collection: &str) -> Result<i64> {
    name_id(field, name, collection)?
        .parse()
        .map_err(|_| Error::invalid(field, format!("expected `{collection}/{{number}}`, got {name:?}")))
}

/// Parses `reports/{id}` or `reports/{id}/revisions/{n}`.
pub fn report_or_revision(field: &str, name: &str) -> Result<(i64, Option<u32>)> {
    if let Some((report, revision)) = name.split_once("/revisions/") {
        let revision = revision
            .parse()
            .map_err(|_| Error::invalid(field, format!("bad revision number in {name:?}")))?;
        Ok((report_id(field, report)?, Some(revision)))
    } else {
        Ok((report_id(field, name)?, None))
    }
}

/// Parses `forms/{code}/versions/{n}`.
pub fn form_version_name(field: &str, name: &str) -> Result<(String, u32)> {
    let parsed = name
        .strip_prefix("forms/")
        .and_then(|rest| rest.split_once("/versions/"))
        .and_then(|(code, version)| Some((code.to_owned(), version.parse().ok()?)));
    parsed.ok_or_else(|| {
        Error::invalid(
            field,
            format!("expected `forms/{{code}}/versions/{{number}}`, got {name:?}"),
        )
    })
}

/// An empty string means "no filter".
pub fn optional(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub fn unknown_enum(field: &str, value: i32) -> Error {
    Error::invalid(field, format!("unknown enum value {value}"))
}

pub fn bloc_filter(field: &str, value: i32) -> Result<Option<Bloc>> {
    Ok(
        match proto::Bloc::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::Bloc::Unspecified => None,
            proto::Bloc::Party => Some(Bloc::Party),
            proto::Bloc::Council => Some(Bloc::Council),
            proto::Bloc::Government => Some(Bloc::Government),
            proto::Bloc::Front => Some(Bloc::Front),
        },
    )
}

pub fn bloc_to_proto(bloc: Bloc) -> proto::Bloc {
    match bloc {
        Bloc::Party => proto::Bloc::Party,
        Bloc::Council => proto::Bloc::Council,
        Bloc::Government => proto::Bloc::Government,
        Bloc::Front => proto::Bloc::Front,
    }
}

pub fn locality_kind_filter(field: &str, value: i32) -> Result<Option<LocalityKind>> {
    Ok(
        match proto::LocalityKind::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::LocalityKind::Unspecified => None,
            proto::LocalityKind::City => Some(LocalityKind::City),
            proto::LocalityKind::Ward => Some(LocalityKind::Ward),
            proto::LocalityKind::Commune => Some(LocalityKind::Commune),
        },
    )
}

fn locality_kind_to_proto(kind: LocalityKind) -> proto::LocalityKind {
    match kind {
        LocalityKind::City => proto::LocalityKind::City,
        LocalityKind::Ward => proto::LocalityKind::Ward,
        LocalityKind::Commune => proto::LocalityKind::Commune,
    }
}

pub fn organ_kind_filter(field: &str, value: i32) -> Result<Option<OrganKind>> {
    Ok(
        match proto::OrganKind::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::OrganKind::Unspecified => None,
            proto::OrganKind::PartyCommittee => Some(OrganKind::PartyCommittee),
            proto::OrganKind::PeoplesCouncil => Some(OrganKind::PeoplesCouncil),
            proto::OrganKind::PeoplesCommittee => Some(OrganKind::PeoplesCommittee),
            proto::OrganKind::FrontCommittee => Some(OrganKind::FrontCommittee),
            proto::OrganKind::Department => Some(OrganKind::Department),
        },
    )
}

fn organ_kind_to_proto(kind: OrganKind) -> proto::OrganKind {
    match kind {
        OrganKind::PartyCommittee => proto::OrganKind::PartyCommittee,
        OrganKind::PeoplesCouncil => proto::OrganKind::PeoplesCouncil,
        OrganKind::PeoplesCommittee => proto::OrganKind::PeoplesCommittee,
        OrganKind::FrontCommittee => proto::OrganKind::FrontCommittee,
        OrganKind::Department => proto::OrganKind::Department,
    }
}

pub fn locality_to_proto(locality: Locality) -> proto::Locality {
    proto::Locality {
        name: format!("localities/{}", locality.code),
        code: locality.code,
        display_name: locality.name,
        kind: locality_kind_to_proto(locality.kind).into(),
        parent_code: locality.parent_code,
    }
}

pub fn organ_to_proto(organ: Organ) -> proto::Organ {
    proto::Organ {
        name: format!("organs/{}", organ.id),
        id: organ.id,
        display_name: organ.name,
        kind: organ_kind_to_proto(organ.kind).into(),
        bloc: bloc_to_proto(organ.bloc).into(),
        locality_code: organ.locality_code,
    }
}

fn periodicity_to_proto(periodicity: Periodicity) -> proto::Periodicity {
    match periodicity {
        Periodicity::Monthly => proto::Periodicity::Monthly,
        Periodicity::Quarterly => proto::Periodicity::Quarterly,
        Periodicity::Semiannual => proto::Periodicity::Semiannual,
        Periodicity::NineMonth => proto::Periodicity::NineMonth,
        Periodicity::Annual => proto::Periodicity::Annual,
        Periodicity::AdHoc => proto::Periodicity::AdHoc,
    }
}

fn value_type_to_proto(value_type: ValueType) -> proto::ValueType {
    match value_type {
        ValueType::Integer => proto::ValueType::Integer,
        ValueType::Decimal => proto::ValueType::Decimal,
        ValueType::Percent => proto::ValueType::Percent,
        ValueType::MoneyVnd => proto::ValueType::MoneyVnd,
        ValueType::Text => proto::ValueType::Text,
        ValueType::Boolean => proto::ValueType::Boolean,
    }
}

pub fn aggregation_to_proto(aggregation: Aggregation) -> proto::Aggregation {
    match aggregation {
        Aggregation::Sum => proto::Aggregation::Sum,
        Aggregation::Avg => proto::Aggregation::Avg,
        Aggregation::Min => proto::Aggregation::Min,
        Aggregation::Max => proto::Aggregation::Max,
        Aggregation::Last => proto::Aggregation::Last,
        Aggregation::Ratio => proto::Aggregation::Ratio,
    }
}

fn comparison_to_proto(comparison: Comparison) -> proto::Comparison {
    match comparison {
        Comparison::LessThan => proto::Comparison::LessThan,
        Comparison::LessOrEqual => proto::Comparison::LessOrEqual,
        Comparison::Equal => proto::Comparison::Equal,
        Comparison::GreaterOrEqual => proto::Comparison::GreaterOrEqual,
        Comparison::GreaterThan => proto::Comparison::GreaterThan,
    }
}

pub fn definition_to_proto(definition: FormDefinition) -> proto::FormDefinition {
    proto::FormDefinition {
        title: definition.title,
        description: definition.description,
        owner_organ: definition.owner_organ,
        periodicity: periodicity_to_proto(definition.periodicity).into(),
        window_rule: match definition.window_rule {
            WindowRule::Decree09 => proto::WindowRule::Decree09,
            WindowRule::Calendar => proto::WindowRule::Calendar,
        }
        .into(),
        deadline_days_after_cutoff: u32::from(definition.deadline_days_after_cutoff),
        reporting_organ_kinds: definition
            .reporting_organ_kinds
            .into_iter()
            .map(|kind| organ_kind_to_proto(kind).into())
            .collect(),
        first_period: definition
            .first_period
            .map(|period| period.to_string())
            .unwrap_or_default(),
        indicators: definition
            .indicators
            .into_iter()
            .map(|indicator| {
                let (numerator_code, denominator_code) = indicator
                    .ratio_of
                    .map(|ratio| (ratio.numerator, ratio.denominator))
                    .unwrap_or_default();
                proto::Indicator {
                    code: indicator.code,
                    display_name: indicator.name,
                    unit: indicator.unit,
                    value_type: value_type_to_proto(indicator.value_type).into(),
                    aggregation: aggregation_to_proto(indicator.aggregation).into(),
                    required: indicator.required,
                    min: indicator.min.map(|min| min.to_string()).unwrap_or_default(),
                    max: indicator.max.map(|max| max.to_string()).unwrap_or_default(),
                    numerator_code,
                    denominator_code,
                    description: indicator.description,
                    topics: indicator.topics,
                }
            })
            .collect(),
        rules: definition
            .rules
            .into_iter()
            .map(|rule| proto::ValidationRule {
                left_indicator: rule.left,
                comparison: comparison_to_proto(rule.comparison).into(),
                right_indicator: rule.right,
                message: rule.message,
            })
            .collect(),
    }
}

/// Reads a form definition, collecting every shape problem under `prefix`.
pub fn definition_from_proto(prefix: &str, draft: Option<proto::FormDefinition>) -> Result<FormDefinition> {
    let Some(draft) = draft else {
        return Err(Error::invalid(prefix, "the form definition is required"));
    };
    let mut violations = Violations::new();
    let field = |name: &str| format!("{prefix}.{name}");

    let periodicity = match proto::Periodicity::try_from(draft.periodicity) {
        Ok(proto::Periodicity::Monthly) => Periodicity::Monthly,
        Ok(proto::Periodicity::Quarterly) => Periodicity::Quarterly,
        Ok(proto::Periodicity::Semiannual) => Periodicity::Semiannual,
        Ok(proto::Periodicity::NineMonth) => Periodicity::NineMonth,
        Ok(proto::Periodicity::Annual) => Periodicity::Annual,
        Ok(proto::Periodicity::AdHoc) => Periodicity::AdHoc,
        Ok(proto::Periodicity::Unspecified) | Err(_) => {
            violations.add(field("periodicity"), "choose a periodicity");
            Periodicity::Monthly
        }
    };
    let window_rule = match proto::WindowRule::try_from(draft.window_rule) {
        Ok(proto::WindowRule::Unspecified | proto::WindowRule::Decree09) => WindowRule::Decree09,
        Ok(proto::WindowRule::Calendar) => WindowRule::Calendar,
        Err(_) => {
            violations.add(field("window_rule"), "unknown window rule");
            WindowRule::Decree09
        }
    };
    let deadline_days_after_cutoff = u16::try_from(draft.deadline_days_after_cutoff).unwrap_or_else(|_| {
        violations.add(field("deadline_days_after_cutoff"), "at most 366 days");
        0
    });
    let mut reporting_organ_kinds = Vec::new();
    for (index, kind) in draft.reporting_organ_kinds.iter().enumerate() {
        match organ_kind_filter("", *kind) {
            Ok(Some(kind)) => reporting_organ_kinds.push(kind),
            _ => violations.add(
                format!("{prefix}.reporting_organ_kinds[{index}]"),
                "not an organ kind",
            ),
        }
    }
    let first_period = match optional(draft.first_period) {
        None => None,
        Some(text) => match text.parse() {
            Ok(period) => Some(period),
            Err(error) => {
                violations.add(field("first_period"), format!("{error}"));
                None
            }
        },
    };

    let mut indicators = Vec::with_capacity(draft.indicators.len());
    for (index, indicator) in draft.indicators.into_iter().enumerate() {
        let field = |name: &str| format!("{prefix}.indicators[{index}].{name}");
        let value_type = match proto::ValueType::try_from(indicator.value_type) {
            Ok(proto::ValueType::Integer) => ValueType::Integer,
            Ok(proto::ValueType::Decimal) => ValueType::Decimal,
            Ok(proto::ValueType::Percent) => ValueType::Percent,
            Ok(proto::ValueType::MoneyVnd) => ValueType::MoneyVnd,
            Ok(proto::ValueType::Text) => ValueType::Text,
            Ok(proto::ValueType::Boolean) => ValueType::Boolean,
            Ok(proto::ValueType::Unspecified) | Err(_) => {
                violations.add(field("value_type"), "choose a value type");
                ValueType::Integer
            }
        };
        let aggregation = match proto::Aggregation::try_from(indicator.aggregation) {
            Ok(proto::Aggregation::Sum) => Aggregation::Sum,
            Ok(proto::Aggregation::Avg) => Aggregation::Avg,
            Ok(proto::Aggregation::Min) => Aggregation::Min,
            Ok(proto::Aggregation::Max) => Aggregation::Max,
            Ok(proto::Aggregation::Last) => Aggregation::Last,
            Ok(proto::Aggregation::Ratio) => Aggregation::Ratio,
            Ok(proto::Aggregation::Unspecified) if !value_type.is_numeric() => Aggregation::Last,
            Ok(proto::Aggregation::Unspecified) | Err(_) => {
                violations.add(field("aggregation"), "numeric indicators need an aggregation");
                Aggregation::Sum
            }
        };
        let mut bound = |name: &str, text: String| match optional(text) {
            None => None,
            Some(text) => parse_decimal(&text)
                .map_err(|reason| violations.add(field(name), reason))
                .ok(),
        };
        let min = bound("min", indicator.min);
        let max = bound("max", indicator.max);
        let ratio_of = match (
            optional(indicator.numerator_code),
            optional(indicator.denominator_code),
        ) {
            (None, None) => None,
            (Some(numerator), Some(denominator)) => Some(RatioOf {
                numerator,
                denominator,
            }),
            _ => {
                violations.add(
                    field("denominator_code"),
                    "give both numerator_code and denominator_code, or neither",
                );
                None
            }
        };
        indicators.push(Indicator {
            code: indicator.code,
            name: indicator.display_name,
            unit: indicator.unit,
            value_type,
            aggregation,
            required: indicator.required,
            min,
            max,
            ratio_of,
            description: indicator.description,
            topics: indicator.topics,
        });
    }

    let mut rules = Vec::with_capacity(draft.rules.len());
    for (index, rule) in draft.rules.into_iter().enumerate() {
        let comparison = match proto::Comparison::try_from(rule.comparison) {
            Ok(proto::Comparison::LessThan) => Comparison::LessThan,
            Ok(proto::Comparison::LessOrEqual) => Comparison::LessOrEqual,
            Ok(proto::Comparison::Equal) => Comparison::Equal,
            Ok(proto::Comparison::GreaterOrEqual) => Comparison::GreaterOrEqual,
            Ok(proto::Comparison::GreaterThan) => Comparison::GreaterThan,
            Ok(proto::Comparison::Unspecified) | Err(_) => {
                violations.add(
                    format!("{prefix}.rules[{index}].comparison"),
                    "choose a comparison",
                );
                Comparison::LessOrEqual
            }
        };
        rules.push(ValidationRule {
            left: rule.left_indicator,
            comparison,
            right: rule.right_indicator,
            message: rule.message,
        });
    }
    violations.into_result()?;
    Ok(FormDefinition {
        title: draft.title,
        description: draft.description,
        owner_organ: draft.owner_organ,
        periodicity,
        window_rule,
        deadline_days_after_cutoff,
        reporting_organ_kinds,
        first_period,
        indicators,
        rules,
    })
}

pub fn form_to_proto(form: Form) -> proto::Form {
    proto::Form {
        name: format!("forms/{}", form.code),
        code: form.code,
        draft: Some(definition_to_proto(form.draft)),
        latest_version: form.latest_version,
        create_time: Some(timestamp(form.created_at)),
        update_time: Some(timestamp(form.updated_at)),
    }
}

pub fn form_version_to_proto(version: FormVersion) -> proto::FormVersion {
    proto::FormVersion {
        name: format!("forms/{}/versions/{}", version.form_code, version.version),
        form_code: version.form_code,
        version: version.version,
        definition: Some(definition_to_proto(version.definition)),
        publish_time: Some(timestamp(version.published_at)),
    }
}

pub fn value_inputs(values: Vec<proto::IndicatorValue>) -> Vec<ValueInput> {
    use proto::indicator_value::Value as Field;
    values
        .into_iter()
        .map(|value| ValueInput {
            indicator_code: value.indicator_code,
            value: value.value.map(|field| match field {
                Field::IntegerValue(number) => RawValue::Integer(number),
                Field::DecimalValue(text) => RawValue::Decimal(text),
                Field::MoneyVndValue(number) => RawValue::MoneyVnd(number),
                Field::TextValue(text) => RawValue::Text(text),
                Field::BooleanValue(flag) => RawValue::Boolean(flag),
            }),
        })
        .collect()
}

fn value_to_proto(value: IndicatorValue) -> proto::IndicatorValue {
    use proto::indicator_value::Value as Field;
    proto::IndicatorValue {
        indicator_code: value.indicator_code,
        value: Some(match value.value {
            Value::Integer(number) => Field::IntegerValue(number),
            Value::Decimal(number) => Field::DecimalValue(number.to_string()),
            Value::MoneyVnd(number) => Field::MoneyVndValue(number),
            Value::Text(text) => Field::TextValue(text),
            Value::Boolean(flag) => Field::BooleanValue(flag),
        }),
    }
}

pub fn revision_to_proto(revision: ReportRevision) -> proto::ReportRevision {
    proto::ReportRevision {
        name: revision_name(revision.report_id, revision.revision),
        revision: revision.revision,
        form_version: revision.form_version,
        values: revision.values.into_iter().map(value_to_proto).collect(),
        narrative: revision.narrative,
        amendment_reason: revision.amendment_reason,
        submit_time: Some(timestamp(revision.submitted_at)),
        late: revision.late,
    }
}

pub fn report_status_to_proto(status: ReportStatus) -> proto::ReportStatus {
    match status {
        ReportStatus::Submitted => proto::ReportStatus::Submitted,
        ReportStatus::Returned => proto::ReportStatus::Returned,
        ReportStatus::Accepted => proto::ReportStatus::Accepted,
    }
}

pub fn report_status_filter(field: &str, value: i32) -> Result<Option<ReportStatus>> {
    Ok(
        match proto::ReportStatus::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ReportStatus::Unspecified => None,
            proto::ReportStatus::Submitted => Some(ReportStatus::Submitted),
            proto::ReportStatus::Returned => Some(ReportStatus::Returned),
            proto::ReportStatus::Accepted => Some(ReportStatus::Accepted),
        },
    )
}

pub fn review_decision(field: &str, value: i32) -> Result<Option<ReviewDecision>> {
    Ok(
        match proto::ReviewDecision::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ReviewDecision::Unspecified => None,
            proto::ReviewDecision::Accept => Some(ReviewDecision::Accept),
            proto::ReviewDecision::Return => Some(ReviewDecision::Return),
        },
    )
}

pub fn report_to_proto(report: Report, revision: Option<ReportRevision>) -> proto::Report {
    let review = report.last_review;
    proto::Report {
        name: report_name(report.id),
        organ: report.organ_id,
        locality_code: report.locality_code,
        form_code: report.form_code,
        period: report.period.to_string(),
        status: report_status_to_proto(report.status).into(),
        latest_revision: report.latest_revision,
        late: report.late,
        deadline_time: Some(timestamp(report.deadline)),
        first_submit_time: Some(timestamp(report.first_submitted_at)),
        update_time: Some(timestamp(report.updated_at)),
        review_comment: review
            .as_ref()
            .map(|review| review.comment.clone())
            .unwrap_or_default(),
        reviewed_by: review
            .as_ref()
            .map(|review| review.reviewer_organ.clone())
            .unwrap_or_default(),
        review_time: review.map(|review| timestamp(review.reviewed_at)),
        revision: revision.map(revision_to_proto),
    }
}

pub fn obligation_status_filter(field: &str, value: i32) -> Result<Option<ObligationStatus>> {
    Ok(
        match proto::ObligationStatus::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ObligationStatus::Unspecified => None,
            proto::ObligationStatus::NotSubmitted => Some(ObligationStatus::NotSubmitted),
            proto::ObligationStatus::Overdue => Some(ObligationStatus::Overdue),
            proto::ObligationStatus::Submitted => Some(ObligationStatus::Submitted),
            proto::ObligationStatus::Returned => Some(ObligationStatus::Returned),
            proto::ObligationStatus::Accepted => Some(ObligationStatus::Accepted),
        },
    )
}

pub fn obligation_to_proto(obligation: Obligation) -> proto::Obligation {
    proto::Obligation {
        form_code: obligation.form_code,
        form_title: obligation.form_title,
        period: obligation.period.to_string(),
        cutoff_start_date: obligation.cutoff.start.to_string(),
        cutoff_end_date: obligation.cutoff.end.to_string(),
        deadline_time: Some(timestamp(obligation.deadline)),
        status: match obligation.status {
            ObligationStatus::NotSubmitted => proto::ObligationStatus::NotSubmitted,
            ObligationStatus::Overdue => proto::ObligationStatus::Overdue,
            ObligationStatus::Submitted => proto::ObligationStatus::Submitted,
            ObligationStatus::Returned => proto::ObligationStatus::Returned,
            ObligationStatus::Accepted => proto::ObligationStatus::Accepted,
        }
        .into(),
        late: obligation.late,
        report: obligation.report_id.map(report_name).unwrap_or_default(),
    }
}

pub fn completeness_to_proto(completeness: Completeness) -> proto::GetCompletenessResponse {
    proto::GetCompletenessResponse {
        form_code: completeness.form_code,
        period: completeness.period.to_string(),
        deadline_time: Some(timestamp(completeness.deadline)),
        expected_count: count(completeness.expected),
        submitted_count: count(completeness.submitted),
        on_time_count: count(completeness.on_time),
        late_count: count(completeness.late),
        accepted_count: count(completeness.accepted),
        returned_count: count(completeness.returned),
        missing_organs: completeness.missing.into_iter().map(organ_to_proto).collect(),
    }
}

fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub fn cluster_status_filter(field: &str, value: i32) -> Result<Option<ClusterStatus>> {
    Ok(
        match proto::ClusterStatus::try_from(value).map_err(|_| unknown_enum(field, value))? {
            proto::ClusterStatus::Unspecified => None,
            proto::ClusterStatus::Open => Some(ClusterStatus::Open),
            proto::ClusterStatus::Assigned => Some(ClusterStatus::Assigned),
            proto::ClusterStatus::Answered => Some(ClusterStatus::Answered),
            proto::ClusterStatus::Reopened => Some(ClusterStatus::Reopened),
            proto::ClusterStatus::EscalatedToCentral => Some(ClusterStatus::EscalatedToCentral),
        },
    )
}

fn cluster_status_to_proto(status: ClusterStatus) -> proto::ClusterStatus {
    match status {
        ClusterStatus::Open => proto::ClusterStatus::Open,
        ClusterStatus::Assigned => proto::ClusterStatus::Assigned,
        ClusterStatus::Answered => proto::ClusterStatus::Answered,
        ClusterStatus::Reopened => proto::ClusterStatus::Reopened,
        ClusterStatus::EscalatedToCentral => proto::ClusterStatus::EscalatedToCentral,
    }
}

fn dedup_outcome_to_proto(outcome: DedupOutcome) -> proto::DedupOutcome {
    match outcome {
        DedupOutcome::NewCluster => proto::DedupOutcome::NewCluster,
        DedupOutcome::JoinedCluster => proto::DedupOutcome::JoinedCluster,
        DedupOutcome::AlreadyAnswered => proto::DedupOutcome::AlreadyAnswered,
        DedupOutcome::NeedsReview => proto::DedupOutcome::NeedsReview,
    }
}

fn answer_to_proto(answer: ClusterAnswer) -> proto::ClusterAnswer {
    proto::ClusterAnswer {
        text: answer.text,
        answering_organ: answer.answering_organ,
        document: answer.document,
        document_date: answer.document_date.to_string(),
        answer_time: Some(timestamp(answer.answered_at)),
    }
}

pub fn similar_to_proto(similar: SimilarRecommendation) -> proto::SimilarRecommendation {
    proto::SimilarRecommendation {
        recommendation: recommendation_name(similar.recommendation_id),
        cluster: cluster_name(similar.cluster_id),
        text: similar.text,
        score: similar.score,
        cluster_status: cluster_status_to_proto(similar.cluster_status).into(),
    }
}

/// A member as listed in a cluster: its own fields, without the cluster's state.
fn recommendation_to_proto(recommendation: Recommendation) -> proto::Recommendation {
    proto::Recommendation {
        name: recommendation_name(recommendation.id),
        organ: recommendation.organ_id,
        bloc: bloc_to_proto(recommendation.bloc).into(),
        locality_code: recommendation.locality_code,
        text: recommendation.text,
        topic: recommendation.topic.unwrap_or_default(),
        addressee: recommendation.addressee,
        source: recommendation.source.unwrap_or_default(),
        cluster: cluster_name(recommendation.cluster_id),
        outcome: dedup_outcome_to_proto(recommendation.outcome).into(),
        cluster_status: proto::ClusterStatus::Unspecified.into(),
        answer: None,
        pending_suggestions: Vec::new(),
        submit_time: Some(timestamp(recommendation.submitted_at)),
        imported_by: recommendation.imported_by.unwrap_or_default(),
    }
}

pub fn recommendation_view_to_proto(view: RecommendationView) -> proto::Recommendation {
    proto::Recommendation {
        cluster_status: cluster_status_to_proto(view.cluster_status).into(),
        answer: view.answer.map(answer_to_proto),
        pending_suggestions: view.suggestions.into_iter().map(similar_to_proto).collect(),
        ..recommendation_to_proto(view.recommendation)
    }
}

pub fn cluster_to_proto(cluster: Cluster, members: Vec<Recommendation>) -> proto::Cluster {
    proto::Cluster {
        name: cluster_name(cluster.id),
        status: cluster_status_to_proto(cluster.status).into(),
        representative_text: cluster.representative_text,
        representative: recommendation_name(cluster.representative_id),
        topic: cluster.topic.unwrap_or_default(),
        addressee: cluster.addressee,
        assigned_department: cluster.assigned_department.unwrap_or_default(),
        answer: cluster.answer.map(answer_to_proto),
        escalation_proposal: cluster.escalation_proposal.unwrap_or_default(),
        member_count: count(cluster.member_count),
        locality_codes: cluster.locality_codes,
        blocs: cluster
            .blocs
            .into_iter()
            .map(|bloc| bloc_to_proto(bloc).into())
            .collect(),
        first_seen_time: Some(timestamp(cluster.first_seen)),
        last_seen_time: Some(timestamp(cluster.last_seen)),
        members: members.into_iter().map(recommendation_to_proto).collect(),
    }
}

pub fn ranked_cluster_to_proto(ranked: RankedCluster) -> proto::RankedCluster {
    proto::RankedCluster {
        recommendations_in_range: count(ranked.members_in_span),
        locality_codes_in_range: ranked.localities_in_span,
        blocs_in_range: ranked
            .blocs_in_span
            .into_iter()
            .map(|bloc| bloc_to_proto(bloc).into())
            .collect(),
        cluster: Some(cluster_to_proto(ranked.cluster, Vec::new())),
    }
}

/// The kind of event a decision causes.
fn event_kind(decision: ClusterDecision) -> proto::RecommendationEventKind {
    match decision {
        ClusterDecision::Assign => proto::RecommendationEventKind::Assigned,
        ClusterDecision::Answer => proto::RecommendationEventKind::Answered,
        ClusterDecision::Reopen => proto::RecommendationEventKind::Reopened,
        ClusterDecision::Escalate => proto::RecommendationEventKind::Escalated,
        ClusterDecision::Merge | ClusterDecision::MergedInto => proto::RecommendationEventKind::Merged,
        ClusterDecision::MoveOut | ClusterDecision::MoveIn => proto::RecommendationEventKind::Moved,
        ClusterDecision::ConfirmDuplicate => proto::RecommendationEventKind::ReviewConfirmed,
        ClusterDecision::KeepSeparate => proto::RecommendationEventKind::ReviewKeptSeparate,
    }
}

pub fn recorded_decision_to_proto(recorded: RecordedDecision) -> proto::ClusterDecision {
    let kind = match recorded.decision {
        ClusterDecision::Assign => proto::ClusterDecisionKind::Assign,
        ClusterDecision::Answer => proto::ClusterDecisionKind::Answer,
        ClusterDecision::Reopen => proto::ClusterDecisionKind::Reopen,
        ClusterDecision::Escalate => proto::ClusterDecisionKind::Escalate,
        ClusterDecision::ConfirmDuplicate => proto::ClusterDecisionKind::ConfirmDuplicate,
        ClusterDecision::KeepSeparate => proto::ClusterDecisionKind::KeepSeparate,
        ClusterDecision::Merge => proto::ClusterDecisionKind::Merge,
        ClusterDecision::MergedInto => proto::ClusterDecisionKind::MergedInto,
        ClusterDecision::MoveOut => proto::ClusterDecisionKind::MoveOut,
        ClusterDecision::MoveIn => proto::ClusterDecisionKind::MoveIn,
    };
    proto::ClusterDecision {
        kind: kind.into(),
        recommendation: recorded
            .recommendation_id
            .map(recommendation_name)
            .unwrap_or_default(),
        actor_organ: recorded.actor_organ,
        detail: recorded.detail,
        decision_time: Some(timestamp(recorded.decided_at)),
    }
}

pub fn recommendation_event_to_proto(event: RecommendationEvent) -> proto::WatchRecommendationsResponse {
    proto::WatchRecommendationsResponse {
        cursor: event.id.to_string(),
        event: Some(proto::RecommendationEvent {
            recommendation: recommendation_name(event.recommendation_id),
            cluster: cluster_name(event.cluster_id),
            kind: event_kind(event.decision).into(),
            detail: event.detail,
            event_time: Some(timestamp(event.occurred_at)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_as_protobuf_defines_them() {
        let read = |seconds: i64, nanos: i32| from_timestamp("at", &Timestamp { seconds, nanos });
        assert_eq!(
            read(1_754_361_000, 500).ok(),
            OffsetDateTime::from_unix_timestamp_nanos(1_754_361_000_000_000_500).ok()
        );
        assert!(read(0, -1).is_err());
        assert!(read(0, 1_000_000_000).is_err());
        assert!(read(i64::MAX, 0).is_err());
    }

    #[test]
    fn resource_names_parse_strictly() {
        assert_eq!(report_or_revision("name", "reports/7").ok(), Some((7, None)));
        assert_eq!(
            report_or_revision("name", "reports/7/revisions/2").ok(),
            Some((7, Some(2)))
        );
        assert!(report_or_revision("name", "reports/x").is_err());
        assert!(report_or_revision("name", "report/7").is_err());
        assert_eq!(
            name_id("name", "organs/01-justice", "organs").ok(),
            Some("01-justice")
        );
        assert!(name_id("name", "organs/", "organs").is_err());
        assert!(name_id("name", "organs/a/b", "organs").is_err());
        assert_eq!(
            form_version_name("name", "forms/tthc-monthly/versions/3").ok(),
            Some(("tthc-monthly".to_owned(), 3))
        );
    }
}
