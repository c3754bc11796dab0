//! Reports, their revisions and values, and the writes that must not
//! interleave: creating a report, amending it and reviewing it, each
//! together with its idempotency key in one transaction, the last two as
//! compare-and-set on the revision and status the domain decided on.

use lienthong_domain::error::ResourceKind;
use lienthong_domain::period::Period;
use lienthong_domain::report::{IndicatorValue, Report, ReportRevision, ReportStatus, Review, Value};
use lienthong_domain::service::{report_name, revision_name};
use lienthong_domain::store::{IdempotencyKey, NewReport, NewReview, ReportFilter};
use lienthong_domain::{Error, Result};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

use crate::analytics::latest_figures;
use crate::conversion::{
    from_storage_flag, from_storage_micros, from_storage_name, from_storage_number, to_storage_flag,
    to_storage_micros,
};
use crate::error::{DatabaseResultExt as _, corrupt_stored_data, database_failure, is_unique_violation};
use crate::idempotency::{RESOURCE_NOT_YET_KNOWN, record_idempotency_key, set_idempotency_resource};
use crate::numbered_query::NumberedQuery;
use crate::sql_store::{SqlStore, WriteTransaction, commit, roll_back};

const REPORT_SELECT: &str = "SELECT id, organ_id, locality_code, form_code, period, status, latest_revision, \
     late, deadline, first_submitted_at, updated_at, reviewer_organ, review_comment, reviewed_at FROM reports";

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    organ_id: String,
    locality_code: String,
    form_code: String,
    period: String,
    status: String,
    latest_revision: i64,
    late: i64,
    deadline: i64,
    first_submitted_at: i64,
    updated_at: i64,
    reviewer_organ: Option<String>,
    review_comment: Option<String>,
    reviewed_at: Option<i64>,
}

impl ReportRow {
    fn into_report(self) -> Result<Report> {
        let last_review = match (self.reviewer_organ, self.review_comment, self.reviewed_at) {
            (None, None, None) => None,
            (Some(reviewer_organ), Some(comment), Some(reviewed_at)) => Some(Review {
                reviewer_organ,
                comment,
                reviewed_at: from_storage_micros(reviewed_at)?,
            }),
            _ => {
                return Err(corrupt_stored_data(&format!(
                    "report {} has a partly recorded review",
                    self.id
                )));
            }
        };
        Ok(Report {
            period: self
                .period
                .parse::<Period>()
                .map_err(|error| corrupt_stored_data(&format!("report {}: {error}", self.id)))?,
            status: from_storage_name(&self.status, ReportStatus::parse, "report status")?,
            latest_revision: from_storage_number(self.latest_revision, "revision")?,
            late: from_storage_flag(self.late)?,
            deadline: from_storage_micros(self.deadline)?,
            first_submitted_at: from_storage_micros(self.first_submitted_at)?,
            updated_at: from_storage_micros(self.updated_at)?,
            id: self.id,
            organ_id: self.organ_id,
            locality_code: self.locality_code,
            form_code: self.form_code,
            last_review,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    report_id: i64,
    revision: i64,
    form_version: i64,
    narrative: String,
    amendment_reason: String,
    submitted_at: i64,
    late: i64,
    submitted_by_token: i64,
}

impl RevisionRow {
    fn into_revision(self, values: Vec<IndicatorValue>) -> Result<ReportRevision> {
        Ok(ReportRevision {
            report_id: self.report_id,
            revision: from_storage_number(self.revision, "revision")?,
            form_version: from_storage_number(self.form_version, "form version")?,
            values,
            narrative: self.narrative,
            amendment_reason: self.amendment_reason,
            submitted_at: from_storage_micros(self.submitted_at)?,
            late: from_storage_flag(self.late)?,
            submitted_by_token: self.submitted_by_token,
        })
    }
}

/// Which [`Value`] variant a `report_values` row holds, by its stored name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StoredValueKind {
    Integer,
    Decimal,
    MoneyVnd,
    Text,
    Boolean,
}

impl StoredValueKind {
    const ALL: [StoredValueKind; 5] = [
        StoredValueKind::Integer,
        StoredValueKind::Decimal,
        StoredValueKind::MoneyVnd,
        StoredValueKind::Text,
        StoredValueKind::Boolean,
    ];

    fn as_str(self) -> &'static str {
        match self {
            StoredValueKind::Integer => "INTEGER",
            StoredValueKind::Decimal => "DECIMAL",
            StoredValueKind::MoneyVnd => "MONEY_VND",
            StoredValueKind::Text => "TEXT",
            StoredValueKind::Boolean => "BOOLEAN",
        }
    }

    fn parse(text: &str) -> Option<StoredValueKind> {
        StoredValueKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A value spread over the typed columns of `report_values`.
struct StoredValueColumns {
    kind: StoredValueKind,
    int_value: Option<i64>,
    decimal_value: Option<String>,
    numeric_value: Option<f64>,
    text_value: Option<String>,
}

impl StoredValueColumns {
    /// `numeric_value` holds every numeric value as a float, for roll-ups in
    /// SQL; the exact value stays in `int_value` or `decimal_value`.
    fn of(value: &Value) -> StoredValueColumns {
        let empty = |kind| StoredValueColumns {
            kind,
            int_value: None,
            decimal_value: None,
            numeric_value: None,
            text_value: None,
        };
        match value {
            Value::Integer(number) => StoredValueColumns {
                int_value: Some(*number),
                numeric_value: Some(*number as f64),
                ..empty(StoredValueKind::Integer)
            },
            Value::MoneyVnd(number) => StoredValueColumns {
                int_value: Some(*number),
                numeric_value: Some(*number as f64),
                ..empty(StoredValueKind::MoneyVnd)
            },
            // The string form keeps the scale ("14.10" stays "14.10").
            Value::Decimal(number) => StoredValueColumns {
                decimal_value: Some(number.to_string()),
                numeric_value: number.to_f64(),
                ..empty(StoredValueKind::Decimal)
            },
            Value::Text(text) => StoredValueColumns {
                text_value: Some(text.clone()),
                ..empty(StoredValueKind::Text)
            },
            Value::Boolean(flag) => StoredValueColumns {
                int_value: Some(to_storage_flag(*flag)),
                ..empty(StoredValueKind::Boolean)
            },
        }
    }
}

#[derive(sqlx::FromRow)]
struct ValueRow {
    indicator_code: String,
    int_value: Option<i64>,
    decimal_value: Option<String>,
    text_value: Option<String>,
    value_kind: String,
}

impl ValueRow {
    fn into_indicator_value(self) -> Result<IndicatorValue> {
        let ValueRow {
            indicator_code,
            int_value,
            decimal_value,
            text_value,
            value_kind,
        } = self;
        let missing =
            |column: &str| corrupt_stored_data(&format!("value of {indicator_code} has no {column}"));
        let value = match from_storage_name(&value_kind, StoredValueKind::parse, "value kind")? {
            StoredValueKind::Integer => Value::Integer(int_value.ok_or_else(|| missing("int_value"))?),
            StoredValueKind::MoneyVnd => Value::MoneyVnd(int_value.ok_or_else(|| missing("int_value"))?),
            StoredValueKind::Boolean => {
                Value::Boolean(from_storage_flag(int_value.ok_or_else(|| missing("int_value"))?)?)
            }
            StoredValueKind::Decimal => {
                let text = decimal_value.ok_or_else(|| missing("decimal_value"))?;
                Value::Decimal(text.parse::<Decimal>().map_err(|error| {
                    corrupt_stored_data(&format!("decimal {text:?} of {indicator_code}: {error}"))
                })?)
            }
            StoredValueKind::Text => Value::Text(text_value.ok_or_else(|| missing("text_value"))?),
        };
        Ok(IndicatorValue {
            indicator_code,
            value,
        })
    }
}

/// Inserts a revision, then all its values in one multi-row statement (a
/// round trip per value would dominate on PostgreSQL), keeping their order in
/// `position`. The domain's 500-indicator cap keeps the 9 parameters per
/// value far below either backend's limit on parameters.
async fn insert_revision_rows(
    transaction: &mut WriteTransaction,
    report_id: i64,
    revision: &ReportRevision,
) -> Result<()> {
    let revision_number = i64::from(revision.revision);
    sqlx::query(
        "INSERT INTO report_revisions (report_id, revision, form_version, narrative, amendment_reason, \
         submitted_at, late, submitted_by_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(report_id)
    .bind(revision_number)
    .bind(i64::from(revision.form_version))
    .bind(&revision.narrative)
    .bind(&revision.amendment_reason)
    .bind(to_storage_micros(revision.submitted_at)?)
    .bind(to_storage_flag(revision.late))
    .bind(revision.submitted_by_token)
    .execute(&mut **transaction)
    .await
    .or_database_failure("storing a report revision")?;

    if revision.values.is_empty() {
        return Ok(());
    }
    let mut insert = NumberedQuery::new(
        "INSERT INTO report_values (report_id, revision, position, indicator_code, int_value, \
         decimal_value, numeric_value, text_value, value_kind) VALUES ",
    );
    for (position, indicator_value) in revision.values.iter().enumerate() {
        let position = i64::try_from(position)
            .map_err(|_| Error::Internal("a revision has too many values to store".to_owned()))?;
        let columns = StoredValueColumns::of(&indicator_value.value);
        insert.push_sql(if position == 0 { "(" } else { ", (" });
        insert.push_bind(report_id)?.push_sql(", ");
        insert.push_bind(revision_number)?.push_sql(", ");
        insert.push_bind(position)?.push_sql(", ");
        insert
            .push_bind(indicator_value.indicator_code.as_str())?
            .push_sql(", ");
        insert.push_bind(columns.int_value)?.push_sql(", ");
        insert.push_bind(columns.decimal_value)?.push_sql(", ");
        insert.push_bind(columns.numeric_value)?.push_sql(", ");
        insert.push_bind(columns.text_value)?.push_sql(", ");
        insert.push_bind(columns.kind.as_str())?.push_sql(")");
    }
    let (sql, arguments) = insert.into_parts();
    sqlx::query_with(sql, arguments)
        .execute(&mut **transaction)
        .await
        .or_database_failure("storing report values")?;
    Ok(())
}

impl SqlStore {
    pub(crate) async fn insert_report_with_first_revision(
        &self,
        report: &NewReport,
        key: &IdempotencyKey,
    ) -> Result<i64> {
        let first_revision = &report.first_revision;
        let submitted_at = to_storage_micros(first_revision.submitted_at)?;
        let mut transaction = self.begin_write().await?;
        record_idempotency_key(&mut transaction, key, RESOURCE_NOT_YET_KNOWN, submitted_at).await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO reports (organ_id, locality_code, form_code, period, status, latest_revision, late, \
             deadline, first_submitted_at, updated_at, latest_figures) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
        )
        .bind(&report.organ_id)
        .bind(&report.locality_code)
        .bind(&report.form_code)
        .bind(report.period.to_string())
        .bind(ReportStatus::Submitted.as_str())
        .bind(i64::from(first_revision.revision))
        .bind(to_storage_flag(first_revision.late))
        .bind(to_storage_micros(report.deadline)?)
        .bind(submitted_at)
        .bind(latest_figures(&first_revision.values))
        .fetch_one(&mut *transaction)
        .await;
        let report_id = match inserted {
            Ok(report_id) => report_id,
            Err(error) if is_unique_violation(&error) => {
                roll_back(transaction).await?;
                return Err(self.report_already_exists(report).await);
            }
            Err(error) => return Err(database_failure("creating a report", &error)),
        };
        insert_revision_rows(&mut transaction, report_id, first_revision).await?;
        set_idempotency_resource(
            &mut transaction,
            key,
            &revision_name(report_id, first_revision.revision),
        )
        .await?;
        commit(transaction).await?;
        Ok(report_id)
    }

    /// The `AlreadyExists` for a second report of one organ, form and period,
    /// naming the report to amend instead.
    async fn report_already_exists(&self, report: &NewReport) -> Error {
        let existing = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM reports WHERE organ_id = $1 AND form_code = $2 AND period = $3",
        )
        .bind(&report.organ_id)
        .bind(&report.form_code)
        .bind(report.period.to_string())
        .fetch_optional(&self.pool)
        .await;
        match existing {
            Ok(Some(existing_id)) => Error::AlreadyExists {
                kind: ResourceKind::Report,
                name: report_name(existing_id),
                reason: format!(
                    "organ {} already reported form {} for period {}; amend that report instead",
                    report.organ_id, report.form_code, report.period
                ),
            },
            Ok(None) => Error::Internal("a report conflicted with one that cannot be found".to_owned()),
            Err(error) => database_failure("finding the conflicting report", &error),
        }
    }

    pub(crate) async fn append_revision_if_unchanged(
        &self,
        revision: &ReportRevision,
        expected_status: ReportStatus,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let report_id = revision.report_id;
        let expected_revision = revision.revision.saturating_sub(1);
        let submitted_at = to_storage_micros(revision.submitted_at)?;
        let mut transaction = self.begin_write().await?;
        record_idempotency_key(
            &mut transaction,
            key,
            &revision_name(report_id, revision.revision),
            submitted_at,
        )
        .await?;
        let updated = sqlx::query(
            "UPDATE reports SET latest_revision = $1, status = $2, updated_at = $3, latest_figures = $4 \
             WHERE id = $5 AND latest_revision = $6 AND status = $7",
        )
        .bind(i64::from(revision.revision))
        .bind(ReportStatus::Submitted.as_str())
        .bind(submitted_at)
        .bind(latest_figures(&revision.values))
        .bind(report_id)
        .bind(i64::from(expected_revision))
        .bind(expected_status.as_str())
        .execute(&mut *transaction)
        .await
        .or_database_failure("advancing a report's revision")?;
        if updated.rows_affected() == 0 {
            roll_back(transaction).await?;
            return Err(self
                .report_changed_meanwhile(report_id, expected_revision, expected_status)
                .await);
        }
        insert_revision_rows(&mut transaction, report_id, revision).await?;
        commit(transaction).await
    }

    pub(crate) async fn record_review_if_unchanged(
        &self,
        review: &NewReview,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let reviewed_at = to_storage_micros(review.review.reviewed_at)?;
        let mut transaction = self.begin_write().await?;
        record_idempotency_key(&mut transaction, key, &report_name(review.report_id), reviewed_at).await?;
        let updated = sqlx::query(
            "UPDATE reports SET status = $1, reviewer_organ = $2, review_comment = $3, reviewed_at = $4, \
             updated_at = $4 WHERE id = $5 AND latest_revision = $6 AND status = $7",
        )
        .bind(review.new_status.as_str())
        .bind(&review.review.reviewer_organ)
        .bind(&review.review.comment)
        .bind(reviewed_at)
        .bind(review.report_id)
        .bind(i64::from(review.expected_revision))
        .bind(review.expected_status.as_str())
        .execute(&mut *transaction)
        .await
        .or_database_failure("recording a review")?;
        if updated.rows_affected() == 0 {
            roll_back(transaction).await?;
            return Err(self
                .report_changed_meanwhile(review.report_id, review.expected_revision, review.expected_status)
                .await);
        }
        commit(transaction).await
    }

    /// Why a compare-and-set on a report matched nothing: the report is gone
    /// (`NotFound`) or no longer at the expected revision and status.
    async fn report_changed_meanwhile(
        &self,
        report_id: i64,
        expected_revision: u32,
        expected_status: ReportStatus,
    ) -> Error {
        match self.report_by_id(report_id).await {
            Ok(None) => Error::not_found(ResourceKind::Report, report_name(report_id)),
            Ok(Some(current)) => Error::FailedPrecondition {
                violation_type: "CONCURRENT_CHANGE",
                subject: report_name(report_id),
                description: format!(
                    "the report changed meanwhile: it is at revision {} and {}, not revision {} and {}; \
                     read it again",
                    current.latest_revision,
                    current.status.as_str(),
                    expected_revision,
                    expected_status.as_str()
                ),
            },
            Err(error) => error,
        }
    }

    pub(crate) async fn report_by_id(&self, id: i64) -> Result<Option<Report>> {
        let mut query = NumberedQuery::new(REPORT_SELECT);
        query.push_condition("id = {}", id)?;
        Ok(self.fetch_reports(query).await?.pop())
    }

    pub(crate) async fn reports_page(
        &self,
        filter: &ReportFilter,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Report>> {
        let mut query = NumberedQuery::new(REPORT_SELECT);
        if let Some(form_code) = &filter.form_code {
            query.push_condition("form_code = {}", form_code.as_str())?;
        }
        if let Some(period) = filter.period {
            query.push_condition("period = {}", period.to_string())?;
        }
        if let Some(organ_id) = &filter.organ_id {
            query.push_condition("organ_id = {}", organ_id.as_str())?;
        }
        if let Some(locality_code) = &filter.locality_code {
            query.push_condition("locality_code = {}", locality_code.as_str())?;
        }
        if let Some(status) = filter.status {
            query.push_condition("status = {}", status.as_str())?;
        }
        if let Some(form_owner) = &filter.form_owner {
            // The owner of a form is the one its latest published version names.
            query.push_condition(
                "form_code IN (SELECT form_versions.form_code FROM form_versions JOIN forms \
                 ON forms.code = form_versions.form_code AND forms.latest_version = form_versions.version \
                 WHERE form_versions.owner_organ = {})",
                form_owner.as_str(),
            )?;
        }
        if let Some(after_id) = after_id {
            query.push_condition("id > {}", after_id)?;
        }
        query.push_order_and_limit("id", limit);
        self.fetch_reports(query).await
    }

    async fn fetch_reports(&self, query: NumberedQuery) -> Result<Vec<Report>> {
        let (sql, arguments) = query.into_parts();
        sqlx::query_as_with::<_, ReportRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading reports")?
            .into_iter()
            .map(ReportRow::into_report)
            .collect()
    }

    /// A revision with its values in their stored order. Revisions never
    /// change once written, so the two reads need no transaction.
    pub(crate) async fn revision_with_values(
        &self,
        report_id: i64,
        revision: u32,
    ) -> Result<Option<ReportRevision>> {
        let revision_number = i64::from(revision);
        let Some(revision_row) = sqlx::query_as::<_, RevisionRow>(
            "SELECT report_id, revision, form_version, narrative, amendment_reason, submitted_at, late, \
             submitted_by_token FROM report_revisions WHERE report_id = $1 AND revision = $2",
        )
        .bind(report_id)
        .bind(revision_number)
        .fetch_optional(&self.pool)
        .await
        .or_database_failure("reading a report revision")?
        else {
            return Ok(None);
        };
        let values = sqlx::query_as::<_, ValueRow>(
            "SELECT indicator_code, int_value, decimal_value, text_value, value_kind FROM report_values \
             WHERE report_id = $1 AND revision = $2 ORDER BY position",
        )
        .bind(report_id)
        .bind(revision_number)
        .fetch_all(&self.pool)
        .await
        .or_database_failure("reading report values")?
        .into_iter()
        .map(ValueRow::into_indicator_value)
        .collect::<Result<Vec<_>>>()?;
        revision_row.into_revision(values).map(Some)
    }
}
