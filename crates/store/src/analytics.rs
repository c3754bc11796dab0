//! The analytics queries: grouped counts, sums, extremes, latest values and
//! ratio parts over the latest revision of each report in scope, with the
//! same SQL on both backends (window functions and `WITH … VALUES` are in
//! both). Each query is one statement whatever the number of groups; the
//! domain applies the aggregation rules to the grouped rows.
//!
//! Every query starts from `reports` filtered by form and periods (the
//! `reports_for_analytics` index of migration 0005), joins the reporting
//! organ for the locality, bloc and kind filters, and reaches the values of
//! the latest revision through the primary key of `report_values`.

use async_trait::async_trait;
use lienthong_domain::Result;
use lienthong_domain::analytics::{
    AnalyticsStore, GroupKey, Grouping, LatestSum, Partial, RatioParts, RatioSummary, ReportCounts,
    ReportScope, ReportSelection, ReportedValue, ValueSummary,
};
use lienthong_domain::directory::{Bloc, LocalityKind};
use lienthong_domain::form::RatioOf;
use lienthong_domain::period::Period;
use lienthong_domain::report::ReportStatus;

use crate::conversion::{from_storage_name, from_storage_number};
use crate::error::{DatabaseResultExt as _, corrupt_stored_data};
use crate::numbered_query::NumberedQuery;
use crate::sql_store::SqlStore;

/// Up to this many indicators, values are looked up by indicator code.
const MAX_SOUGHT_INDICATORS: usize = 3;

/// A key column of a dimension not grouped by: the same empty text on both backends.
const NOT_GROUPED: &str = "CAST('' AS TEXT)";

/// Reports and their organs; every query adds the values it needs.
const REPORTS_AND_ORGANS: &str = " FROM reports r JOIN organs o ON o.id = r.organ_id";

/// The values of a report's latest revision, as `alias`.
fn latest_values(alias: &str) -> String {
    format!(
        " JOIN report_values {alias} ON {alias}.report_id = r.id AND {alias}.revision = r.latest_revision"
    )
}

/// The select list of a group's key columns (`locality_code`, `bloc`,
/// `period`) and the expressions to group by.
fn key_columns(grouping: Grouping, period_expression: &str) -> (String, Vec<String>) {
    let mut group_by = Vec::new();
    let mut column = |grouped: bool, expression: &str, name: &str| {
        if grouped {
            group_by.push(expression.to_owned());
            format!("{expression} AS {name}")
        } else {
            format!("{NOT_GROUPED} AS {name}")
        }
    };
    let select = [
        column(grouping.locality, "o.locality_code", "locality_code"),
        column(grouping.bloc, "o.bloc", "bloc"),
        column(grouping.period, period_expression, "period"),
    ]
    .join(", ");
    (select, group_by)
}

/// ` GROUP BY` the key expressions and then `more`.
fn group_by_clause(keys: &[String], more: &[&str]) -> String {
    let all: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect();
    format!(" GROUP BY {}", all.join(", "))
}

/// Whether the scope reads nothing (an empty `IN ()` is not SQL).
fn reads_nothing(scope: &ReportScope) -> bool {
    scope.periods.is_empty() || scope.organ_kinds.is_empty()
}

/// The WHERE clause of a scope: form, periods, organs that owe the form
/// (its kinds, in communes and wards) within the filters, and the
/// selection. The caller has checked [`reads_nothing`].
fn push_scope(query: &mut NumberedQuery, scope: &ReportScope) -> Result<()> {
    query.push_condition("r.form_code = {}", scope.form_code.as_str())?;
    query.push_condition_in("r.period IN ({})", scope.periods.iter().map(ToString::to_string))?;
    query.push_condition_in(
        "o.kind IN ({})",
        scope.organ_kinds.iter().map(|kind| kind.as_str()),
    )?;
    let commune_level_kinds = LocalityKind::ALL
        .into_iter()
        .filter(|kind| kind.is_commune_level())
        .map(LocalityKind::as_str);
    query.push_condition_in(
        "o.locality_code IN (SELECT code FROM localities WHERE kind IN ({}))",
        commune_level_kinds,
    )?;
    if !scope.locality_codes.is_empty() {
        query.push_condition_in(
            "o.locality_code IN ({})",
            scope.locality_codes.iter().map(String::as_str),
        )?;
    }
    if !scope.blocs.is_empty() {
        query.push_condition_in("o.bloc IN ({})", scope.blocs.iter().map(|bloc| bloc.as_str()))?;
    }
    if let Some(organ_id) = &scope.organ_id {
        query.push_condition("r.organ_id = {}", organ_id.as_str())?;
    }
    match scope.selection {
        ReportSelection::LatestRevision => {}
        ReportSelection::AcceptedOnly => {
            query.push_condition("r.status = {}", ReportStatus::Accepted.as_str())?;
        }
    }
    Ok(())
}

fn parse_period(text: &str) -> Result<Period> {
    text.parse::<Period>()
        .map_err(|error| corrupt_stored_data(&format!("period {text:?}: {error}")))
}

/// A count read back as unsigned.
fn count(stored: i64) -> Result<u64> {
    u64::try_from(stored).map_err(|_| corrupt_stored_data(&format!("count {stored} is negative")))
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    locality_code: String,
    bloc: String,
    period: String,
}

impl KeyRow {
    fn into_key(self) -> Result<GroupKey> {
        let present = |text: String| (!text.is_empty()).then_some(text);
        Ok(GroupKey {
            period: present(self.period).map(|text| parse_period(&text)).transpose()?,
            locality_code: present(self.locality_code),
            bloc: present(self.bloc)
                .map(|text| from_storage_name(&text, Bloc::parse, "bloc"))
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ValueSummaryRow {
    #[sqlx(flatten)]
    key: KeyRow,
    indicator_code: String,
    value_count: i64,
    value_sum: Option<f64>,
    value_min: Option<f64>,
    value_max: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct LatestSumRow {
    #[sqlx(flatten)]
    key: KeyRow,
    indicator_code: String,
    organ_count: i64,
    value_sum: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct RatioRow {
    #[sqlx(flatten)]
    key: KeyRow,
    numerator_code: String,
    denominator_code: String,
    report_count: i64,
    numerator_sum: Option<f64>,
    denominator_sum: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    locality_code: String,
    period: String,
    submitted: i64,
    on_time: i64,
    accepted: i64,
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    report_id: i64,
    revision: i64,
    organ_id: String,
    locality_code: String,
    period: String,
    indicator_code: String,
    value: f64,
}

impl SqlStore {
    async fn fetch<T>(&self, query: NumberedQuery, operation: &str) -> Result<Vec<T>>
    where
        T: for<'row> sqlx::FromRow<'row, sqlx::any::AnyRow> + Send + Unpin,
    {
        let (sql, arguments) = query.into_parts();
        sqlx::query_as_with::<_, T, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure(operation)
    }
}

#[async_trait]
impl AnalyticsStore for SqlStore {
    async fn summarise_values(
        &self,
        scope: &ReportScope,
        grouping: Grouping,
        indicator_codes: &[String],
    ) -> Result<Vec<ValueSummary>> {
        if reads_nothing(scope) || indicator_codes.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, group_by) = key_columns(grouping, "r.period");
        let mut query = NumberedQuery::new(&format!(
            "SELECT {keys}, v.indicator_code AS indicator_code, COUNT(v.numeric_value) AS value_count, \
             SUM(v.numeric_value) AS value_sum, MIN(v.numeric_value) AS value_min, \
             MAX(v.numeric_value) AS value_max"
        ));
        query.push_sql(REPORTS_AND_ORGANS).push_sql(&latest_values("v"));
        push_scope(&mut query, scope)?;
        // A few indicators are sought by key; for more, one range read per
        // report and dropping the others here is cheaper than a seek per
        // indicator and report.
        let sought = indicator_codes.len() <= MAX_SOUGHT_INDICATORS;
        if sought {
            query.push_condition_in(
                "v.indicator_code IN ({})",
                indicator_codes.iter().map(String::as_str),
            )?;
        }
        query.push_sql(" AND v.numeric_value IS NOT NULL");
        query.push_sql(&group_by_clause(&group_by, &["v.indicator_code"]));
        let rows: Vec<ValueSummaryRow> = self.fetch(query, "summarising report values").await?;
        rows.into_iter()
            .filter(|row| sought || indicator_codes.contains(&row.indicator_code))
            .map(|row| {
                Ok(ValueSummary {
                    key: row.key.into_key()?,
                    indicator_code: row.indicator_code,
                    partial: Partial {
                        count: count(row.value_count)?,
                        sum: row.value_sum.unwrap_or(0.0),
                        min: row.value_min.unwrap_or(0.0),
                        max: row.value_max.unwrap_or(0.0),
                    },
                })
            })
            .collect()
    }

    async fn summarise_latest_values(
        &self,
        scope: &ReportScope,
        grouping: Grouping,
        buckets: &[(Period, Period)],
        indicator_codes: &[String],
    ) -> Result<Vec<LatestSum>> {
        if reads_nothing(scope) || indicator_codes.is_empty() {
            return Ok(Vec::new());
        }
        let rolls_up = grouping.period && buckets.iter().any(|(period, bucket)| period != bucket);
        let mut query = NumberedQuery::default();
        if rolls_up {
            query.push_sql("WITH buckets (period, bucket) AS (VALUES ");
            for (index, (period, bucket)) in buckets.iter().enumerate() {
                query.push_sql(if index == 0 { "(" } else { ", (" });
                query.push_bind(period.to_string())?.push_sql(", ");
                query.push_bind(bucket.to_string())?.push_sql(")");
            }
            query.push_sql(") ");
        }
        let bucket_expression = if rolls_up { "b.bucket" } else { "r.period" };
        // Inside: each organ's values ranked by recency within its bucket.
        let (keys, _) = key_columns(grouping, bucket_expression);
        let partition = if grouping.period {
            format!("r.organ_id, {bucket_expression}, v.indicator_code")
        } else {
            "r.organ_id, v.indicator_code".to_owned()
        };
        query.push_sql(&format!(
            "SELECT locality_code, bloc, period, indicator_code, COUNT(numeric_value) AS organ_count, \
             SUM(numeric_value) AS value_sum FROM (SELECT {keys}, v.indicator_code AS indicator_code, \
             v.numeric_value AS numeric_value, ROW_NUMBER() OVER (PARTITION BY {partition} \
             ORDER BY r.period DESC) AS recency"
        ));
        query.push_sql(REPORTS_AND_ORGANS).push_sql(&latest_values("v"));
        if rolls_up {
            query.push_sql(" JOIN buckets b ON b.period = r.period");
        }
        push_scope(&mut query, scope)?;
        query.push_condition_in(
            "v.indicator_code IN ({})",
            indicator_codes.iter().map(String::as_str),
        )?;
        query.push_sql(" AND v.numeric_value IS NOT NULL");
        query.push_sql(") ranked WHERE recency = 1 GROUP BY locality_code, bloc, period, indicator_code");
        let rows: Vec<LatestSumRow> = self.fetch(query, "summarising latest report values").await?;
        rows.into_iter()
            .map(|row| {
                Ok(LatestSum {
                    key: row.key.into_key()?,
                    indicator_code: row.indicator_code,
                    organs: count(row.organ_count)?,
                    sum: row.value_sum.unwrap_or(0.0),
                })
            })
            .collect()
    }

    async fn summarise_ratios(
        &self,
        scope: &ReportScope,
        grouping: Grouping,
        pairs: &[RatioOf],
    ) -> Result<Vec<RatioSummary>> {
        if reads_nothing(scope) || pairs.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, group_by) = key_columns(grouping, "r.period");
        let mut query = NumberedQuery::new(&format!(
            "SELECT {keys}, n.indicator_code AS numerator_code, d.indicator_code AS denominator_code, \
             COUNT(*) AS report_count, SUM(n.numeric_value) AS numerator_sum, \
             SUM(d.numeric_value) AS denominator_sum"
        ));
        query
            .push_sql(REPORTS_AND_ORGANS)
            .push_sql(&latest_values("n"))
            .push_sql(&latest_values("d"));
        push_scope(&mut query, scope)?;
        query.push_sql(" AND n.numeric_value IS NOT NULL AND d.numeric_value IS NOT NULL AND (");
        for (index, pair) in pairs.iter().enumerate() {
            query.push_sql(if index == 0 { "(" } else { " OR (" });
            query
                .push_sql("n.indicator_code = ")
                .push_bind(pair.numerator.as_str())?;
            query
                .push_sql(" AND d.indicator_code = ")
                .push_bind(pair.denominator.as_str())?;
            query.push_sql(")");
        }
        query.push_sql(")");
        query.push_sql(&group_by_clause(
            &group_by,
            &["n.indicator_code", "d.indicator_code"],
        ));
        let rows: Vec<RatioRow> = self.fetch(query, "summarising percentage parts").await?;
        rows.into_iter()
            .map(|row| {
                Ok(RatioSummary {
                    key: row.key.into_key()?,
                    numerator_code: row.numerator_code,
                    denominator_code: row.denominator_code,
                    parts: RatioParts {
                        reports: count(row.report_count)?,
                        numerator: row.numerator_sum.unwrap_or(0.0),
                        denominator: row.denominator_sum.unwrap_or(0.0),
                    },
                })
            })
            .collect()
    }

    async fn count_reports(&self, scope: &ReportScope) -> Result<Vec<ReportCounts>> {
        if reads_nothing(scope) {
            return Ok(Vec::new());
        }
        let mut query = NumberedQuery::new(
            "SELECT o.locality_code AS locality_code, r.period AS period, COUNT(*) AS submitted, \
             SUM(CASE WHEN r.late = 0 THEN 1 ELSE 0 END) AS on_time, SUM(CASE WHEN r.status = ",
        );
        query
            .push_bind(ReportStatus::Accepted.as_str())?
            .push_sql(" THEN 1 ELSE 0 END) AS accepted")
            .push_sql(REPORTS_AND_ORGANS);
        push_scope(&mut query, scope)?;
        query.push_sql(" GROUP BY o.locality_code, r.period");
        let rows: Vec<CountRow> = self.fetch(query, "counting reports").await?;
        rows.into_iter()
            .map(|row| {
                Ok(ReportCounts {
                    period: parse_period(&row.period)?,
                    locality_code: row.locality_code,
                    submitted: count(row.submitted)?,
                    on_time: count(row.on_time)?,
                    accepted: count(row.accepted)?,
                })
            })
            .collect()
    }

    async fn reported_values(
        &self,
        scope: &ReportScope,
        indicator_codes: &[String],
    ) -> Result<Vec<ReportedValue>> {
        if reads_nothing(scope) || indicator_codes.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = NumberedQuery::new(
            "SELECT r.id AS report_id, r.latest_revision AS revision, r.organ_id AS organ_id, \
             o.locality_code AS locality_code, r.period AS period, v.indicator_code AS indicator_code, \
             v.numeric_value AS value",
        );
        query.push_sql(REPORTS_AND_ORGANS).push_sql(&latest_values("v"));
        push_scope(&mut query, scope)?;
        query.push_condition_in(
            "v.indicator_code IN ({})",
            indicator_codes.iter().map(String::as_str),
        )?;
        query.push_sql(" AND v.numeric_value IS NOT NULL ORDER BY r.organ_id, v.indicator_code, r.period");
        let rows: Vec<ValueRow> = self.fetch(query, "reading report values").await?;
        rows.into_iter()
            .map(|row| {
                Ok(ReportedValue {
                    report_id: row.report_id,
                    revision: from_storage_number(row.revision, "revision")?,
                    organ_id: row.organ_id,
                    locality_code: row.locality_code,
                    period: parse_period(&row.period)?,
                    indicator_code: row.indicator_code,
                    value: row.value,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ungrouped_dimensions_are_empty_text_and_grouped_ones_are_grouped_by() {
        let (select, group_by) = key_columns(
            Grouping {
                locality: true,
                bloc: false,
                period: true,
            },
            "r.period",
        );
        assert_eq!(
            select,
            "o.locality_code AS locality_code, CAST('' AS TEXT) AS bloc, r.period AS period"
        );
        assert_eq!(group_by, ["o.locality_code", "r.period"]);
        assert_eq!(
            group_by_clause(&group_by, &["v.indicator_code"]),
            " GROUP BY o.locality_code, r.period, v.indicator_code"
        );
        let (_, none) = key_columns(Grouping::default(), "r.period");
        assert_eq!(
            group_by_clause(&none, &["v.indicator_code"]),
            " GROUP BY v.indicator_code"
        );
    }
}
