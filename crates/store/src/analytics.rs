//! The analytics queries, the same SQL on both backends, one statement each
//! whatever the number of groups.
//!
//! Roll-ups read one row per report in scope: its organ, period and the
//! numeric values of its latest revision as copied onto the report
//! (`reports.latest_figures`, migration 0008), which this module writes and
//! parses; the domain adds them up under each indicator's rule. Reading the
//! 30 000 reports of five years of a 32-indicator form this way is a
//! fraction of grouping their 960 000 value rows in SQL.
//!
//! Every query starts from `reports` filtered by form and periods (the
//! `reports_for_analytics` index of migration 0005) and narrows the organs
//! to those that owe the form within the filters; counts and single values
//! reach `report_values` through its primary key.

use async_trait::async_trait;
use lienthong_domain::Result;
use lienthong_domain::analytics::{
    AnalyticsStore, CatalogueVersions, Receipts, ReportFigures, ReportReceipt, ReportScope, ReportSelection,
    ReportedValue,
};
use lienthong_domain::directory::LocalityKind;
use lienthong_domain::period::Period;
use lienthong_domain::report::{IndicatorValue, ReportStatus, Value};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

use crate::conversion::from_storage_number;
use crate::error::{DatabaseResultExt as _, corrupt_stored_data};
use crate::numbered_query::NumberedQuery;
use crate::sql_store::SqlStore;

/// Reports and their organs, for the queries that report localities.
const REPORTS_AND_ORGANS: &str = " FROM reports r JOIN organs o ON o.id = r.organ_id";

/// The values of a report's latest revision, as `alias`.
fn latest_values(alias: &str) -> String {
    format!(
        " JOIN report_values {alias} ON {alias}.report_id = r.id AND {alias}.revision = r.latest_revision"
    )
}

/// What `reports.latest_figures` holds for a revision's values: each
/// numeric value as `code=value`, joined by `;`, integers as written and
/// decimals with their scale: the values `report_values.numeric_value`
/// holds as floats, exactly. Codes are `[a-z0-9_]`, so neither sign occurs
/// in them.
pub(crate) fn latest_figures(values: &[IndicatorValue]) -> String {
    let mut figures = String::new();
    for indicator_value in values {
        let number = match &indicator_value.value {
            Value::Integer(number) | Value::MoneyVnd(number) => number.to_string(),
            // As `numeric_value`: a decimal without a float has no number.
            Value::Decimal(number) if number.to_f64().is_some() => number.to_string(),
            Value::Decimal(_) | Value::Text(_) | Value::Boolean(_) => continue,
        };
        if !figures.is_empty() {
            figures.push(';');
        }
        figures.push_str(&indicator_value.indicator_code);
        figures.push('=');
        figures.push_str(&number);
    }
    figures
}

/// The values of `codes` in a `latest_figures` text, in the order of `codes`.
fn parse_figures(text: &str, codes: &[String]) -> Result<Vec<Option<f64>>> {
    let mut values = vec![None; codes.len()];
    let mut expected = 0;
    for entry in text.split(';').filter(|entry| !entry.is_empty()) {
        let Some((code, number)) = entry.split_once('=') else {
            return Err(corrupt_stored_data(&format!("figure {entry:?} has no value")));
        };
        // Written in the form's order, so the code after the last one
        // found is the likeliest.
        let column = if codes.get(expected).is_some_and(|wanted| wanted == code) {
            Some(expected)
        } else {
            codes.iter().position(|wanted| wanted == code)
        };
        let Some(column) = column else {
            continue;
        };
        expected = column + 1;
        values[column] = Some(
            parse_number(number)
                .ok_or_else(|| corrupt_stored_data(&format!("figure {code} is not a number: {number:?}")))?,
        );
    }
    Ok(values)
}

/// A stored number as the float `numeric_value` holds: integers as `i64`
/// to `f64`, decimals through `Decimal`, as they were converted on writing.
fn parse_number(text: &str) -> Option<f64> {
    if !text.contains('.')
        && let Ok(integer) = text.parse::<i64>()
    {
        return Some(integer as f64);
    }
    text.parse::<Decimal>().ok()?.to_f64()
}

/// Whether the scope reads nothing (an empty `IN ()` is not SQL).
fn reads_nothing(scope: &ReportScope) -> bool {
    scope.periods.is_empty() || scope.organ_kinds.is_empty()
}

/// The WHERE clause of a scope: form, periods, organs that owe the form
/// (its kinds, in communes and wards) within the filters, and the
/// selection, on reports `r` joined to their organs `o`. The caller has
/// checked [`reads_nothing`].
fn push_scope(query: &mut NumberedQuery, scope: &ReportScope) -> Result<()> {
    push_report_conditions(query, scope)?;
    push_organ_conditions(query, scope)
}

/// The same scope on reports `r` alone, the organs in a subquery: no
/// column of the organ is read, and the 500-odd organs are matched once.
fn push_scope_without_join(query: &mut NumberedQuery, scope: &ReportScope) -> Result<()> {
    push_report_conditions(query, scope)?;
    // The WHERE clause is open, so the organ conditions that follow join
    // the subquery's with AND.
    query.push_sql(" AND r.organ_id IN (SELECT o.id FROM organs o WHERE 1 = 1");
    push_organ_conditions(query, scope)?;
    query.push_sql(")");
    Ok(())
}

/// Form, periods, organ and selection.
fn push_report_conditions(query: &mut NumberedQuery, scope: &ReportScope) -> Result<()> {
    query.push_condition("r.form_code = {}", scope.form_code.as_str())?;
    query.push_condition_in("r.period IN ({})", scope.periods.iter().map(ToString::to_string))?;
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

/// Organs that owe the form, in communes and wards, within the filters.
fn push_organ_conditions(query: &mut NumberedQuery, scope: &ReportScope) -> Result<()> {
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
    Ok(())
}

/// One row of the form's latest version and the directory's version
/// (`latest_form_version`, `directory_version`), as a query or a subquery.
fn push_catalogue_versions(query: &mut NumberedQuery, form_code: &str) -> Result<()> {
    query
        .push_sql("SELECT (SELECT latest_version FROM forms WHERE code = ")
        .push_bind(form_code)?
        .push_sql(") AS latest_form_version, version AS directory_version FROM directory_version");
    Ok(())
}

fn catalogue_versions(latest_form_version: Option<i64>, directory_version: i64) -> Result<CatalogueVersions> {
    Ok(CatalogueVersions {
        latest_form_version: latest_form_version
            .map(|version| from_storage_number(version, "form version"))
            .transpose()?,
        directory_version,
    })
}

fn parse_period(text: &str) -> Result<Period> {
    text.parse::<Period>()
        .map_err(|error| corrupt_stored_data(&format!("period {text:?}: {error}")))
}

#[derive(sqlx::FromRow)]
struct FiguresRow {
    organ_id: String,
    reports: String,
}

#[derive(sqlx::FromRow)]
struct ReceiptsRow {
    latest_form_version: Option<i64>,
    directory_version: i64,
    period: Option<String>,
    receipts: Option<String>,
}

/// A stored digit as a flag, if it is 0 or 1.
fn flag(digit: u8) -> Option<bool> {
    match digit {
        b'0' => Some(false),
        b'1' => Some(true),
        _ => None,
    }
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
    async fn catalogue_versions(&self, form_code: &str) -> Result<CatalogueVersions> {
        let mut query = NumberedQuery::new("");
        push_catalogue_versions(&mut query, form_code)?;
        let (sql, arguments) = query.into_parts();
        let (latest, directory_version): (Option<i64>, i64) = sqlx::query_as_with(sql, arguments)
            .fetch_one(&self.pool)
            .await
            .or_database_failure("reading the form's and the directory's versions")?;
        catalogue_versions(latest, directory_version)
    }

    async fn report_figures(
        &self,
        scope: &ReportScope,
        indicator_codes: &[String],
    ) -> Result<Vec<ReportFigures>> {
        if reads_nothing(scope) || indicator_codes.is_empty() {
            return Ok(Vec::new());
        }
        // One row per organ, its reports as `period figures|…` (neither sign
        // occurs in periods or figures): rows, not bytes, are what costs
        // most in the driver, and an organ has a report per period.
        let mut query = NumberedQuery::new(
            "SELECT r.organ_id AS organ_id, string_agg(r.period || ' ' || r.latest_figures, '|') AS reports \
             FROM reports r",
        );
        push_scope_without_join(&mut query, scope)?;
        query.push_sql(" GROUP BY r.organ_id");
        let rows: Vec<FiguresRow> = self.fetch(query, "reading report figures").await?;
        let mut figures = Vec::new();
        for row in rows {
            for report in row.reports.split('|') {
                let Some((period, values)) = report.split_once(' ') else {
                    return Err(corrupt_stored_data(&format!(
                        "report figures {report:?} have no period"
                    )));
                };
                figures.push(ReportFigures {
                    organ_id: row.organ_id.clone(),
                    period: parse_period(period)?,
                    values: parse_figures(values, indicator_codes)?,
                });
            }
        }
        Ok(figures)
    }

    async fn report_receipts(&self, scope: &ReportScope) -> Result<Receipts> {
        if reads_nothing(scope) {
            return Ok(Receipts {
                versions: self.catalogue_versions(&scope.form_code).await?,
                receipts: Vec::new(),
            });
        }
        // The versions, then (joined to them, so they come back even when no
        // report does) one row per period, its reports as `organ LA|…` with
        // the digits L (late) and A (accepted): organ ids have neither sign.
        // No join to organs: the covering index answers alone, and the
        // caller knows the organs (which it filters by) better than a join
        // would.
        let mut query = NumberedQuery::new(
            "SELECT v.latest_form_version, v.directory_version, g.period, g.receipts FROM (",
        );
        push_catalogue_versions(&mut query, &scope.form_code)?;
        query
            .push_sql(
                ") v LEFT JOIN (SELECT r.period AS period, \
                 string_agg(r.organ_id || ' ' || r.late || CASE WHEN r.status = ",
            )
            .push_bind(ReportStatus::Accepted.as_str())?
            .push_sql(" THEN '1' ELSE '0' END, '|') AS receipts FROM reports r");
        push_report_conditions(&mut query, scope)?;
        query.push_sql(" GROUP BY r.period) g ON 1 = 1");
        let rows: Vec<ReceiptsRow> = self.fetch(query, "reading report receipts").await?;
        let versions = match rows.first() {
            Some(row) => catalogue_versions(row.latest_form_version, row.directory_version)?,
            None => return Err(corrupt_stored_data("the directory has no version row")),
        };
        let mut receipts = Vec::new();
        for row in rows {
            let (Some(period), Some(listed)) = (row.period, row.receipts) else {
                continue;
            };
            let period = parse_period(&period)?;
            for receipt in listed.split('|') {
                let parsed = receipt
                    .split_once(' ')
                    .and_then(|(organ_id, flags)| match flags.as_bytes() {
                        [late, accepted] => Some((organ_id, flag(*late)?, flag(*accepted)?)),
                        _ => None,
                    });
                let Some((organ_id, late, accepted)) = parsed else {
                    return Err(corrupt_stored_data(&format!(
                        "report receipt {receipt:?} is not `organ LA`"
                    )));
                };
                receipts.push(ReportReceipt {
                    organ_id: organ_id.to_owned(),
                    period,
                    on_time: !late,
                    accepted,
                });
            }
        }
        Ok(Receipts { versions, receipts })
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

    fn value(code: &str, value: Value) -> IndicatorValue {
        IndicatorValue {
            indicator_code: code.to_owned(),
            value,
        }
    }

    #[test]
    fn figures_keep_numbers_exactly_and_leave_out_the_rest() {
        let decimal = |text: &str| Value::Decimal(text.parse().expect("a decimal"));
        let figures = latest_figures(&[
            value("received", Value::Integer(-12)),
            value("note", Value::Text("a=b;c".to_owned())),
            value("rate", decimal("14.10")),
            value("open", Value::Boolean(true)),
            value("budget", Value::MoneyVnd(9_007_199_254_740_993)),
        ]);
        assert_eq!(figures, "received=-12;rate=14.10;budget=9007199254740993");
        let codes = ["budget", "rate", "missing", "received"].map(str::to_owned);
        assert_eq!(
            parse_figures(&figures, &codes).expect("parsed"),
            [
                Some(9_007_199_254_740_993_i64 as f64),
                Some(
                    "14.10"
                        .parse::<Decimal>()
                        .expect("a decimal")
                        .to_f64()
                        .expect("a float")
                ),
                None,
                Some(-12.0)
            ]
        );
        assert_eq!(parse_figures("", &codes).expect("parsed"), [None; 4]);
        assert!(parse_figures("received", &codes).is_err());
        assert!(parse_figures("received=x", &codes).is_err());
    }
}
