//! The resolution register: filing a resolution (and marking the one it
//! supersedes) and recording review decisions, each together with its
//! idempotency key in one transaction, the decision as a compare-and-set on
//! the status and number of decisions the domain read; reading and
//! searching. Text search is `LIKE` over the search columns the domain
//! computes, so it behaves the same on SQLite and PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use lienthong_domain::error::ResourceKind;
use lienthong_domain::resolution::{
    NewResolution, NewResolutionReview, Resolution, ResolutionFilter, ResolutionReview, ResolutionStatus,
    ResolutionStore, ResolutionVerdict, SearchColumns, already_superseded, parse_iso_date, resolution_name,
};
use lienthong_domain::store::IdempotencyKey;
use lienthong_domain::{Error, Result};
use sqlx::AssertSqlSafe;
use time::Date;

use crate::conversion::{from_storage_micros, from_storage_name, from_storage_number, to_storage_micros};
use crate::error::{DatabaseResultExt as _, corrupt_stored_data, database_failure, is_unique_violation};
use crate::idempotency::{RESOURCE_NOT_YET_KNOWN, record_idempotency_key, set_idempotency_resource};
use crate::numbered_query::NumberedQuery;
use crate::sql_store::{SqlStore, WriteTransaction, commit, roll_back};

const RESOLUTION_SELECT: &str = "SELECT id, issuing_organ_id, locality_code, symbol, title, adoption_date, \
     effective_date, topic, summary, budget_vnd, supersedes, superseded_by, status, review_count, filed_at, \
     filed_by_token, updated_at FROM resolutions";

/// The character that escapes `%`, `_` and itself in a `LIKE` pattern.
const LIKE_ESCAPE: char = '\\';

#[derive(sqlx::FromRow)]
struct ResolutionRow {
    id: i64,
    issuing_organ_id: String,
    locality_code: String,
    symbol: String,
    title: String,
    adoption_date: String,
    effective_date: String,
    topic: String,
    summary: String,
    budget_vnd: Option<i64>,
    supersedes: Option<i64>,
    superseded_by: Option<i64>,
    status: String,
    review_count: i64,
    filed_at: i64,
    filed_by_token: i64,
    updated_at: i64,
}

impl ResolutionRow {
    fn into_resolution(self, reviews: Vec<ResolutionReview>) -> Result<Resolution> {
        let review_count: u32 = from_storage_number(self.review_count, "review count")?;
        if usize::try_from(review_count).ok() != Some(reviews.len()) {
            return Err(corrupt_stored_data(&format!(
                "resolution {} counts {review_count} reviews but has {}",
                self.id,
                reviews.len()
            )));
        }
        Ok(Resolution {
            adopted_on: from_storage_date(&self.adoption_date)?,
            effective_on: from_storage_date(&self.effective_date)?,
            status: from_storage_name(&self.status, ResolutionStatus::parse, "resolution status")?,
            filed_at: from_storage_micros(self.filed_at)?,
            updated_at: from_storage_micros(self.updated_at)?,
            id: self.id,
            issuing_organ_id: self.issuing_organ_id,
            locality_code: self.locality_code,
            symbol: self.symbol,
            title: self.title,
            topic: self.topic,
            summary: self.summary,
            budget_vnd: self.budget_vnd,
            supersedes: self.supersedes,
            superseded_by: self.superseded_by,
            filed_by_token: self.filed_by_token,
            reviews,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    resolution_id: i64,
    sequence: i64,
    verdict: String,
    comment: String,
    reviewer_organ: String,
    reviewed_by_token: i64,
    reviewed_at: i64,
}

impl ReviewRow {
    fn into_review(self) -> Result<ResolutionReview> {
        Ok(ResolutionReview {
            sequence: from_storage_number(self.sequence, "review sequence")?,
            verdict: from_storage_name(&self.verdict, ResolutionVerdict::parse, "resolution verdict")?,
            comment: self.comment,
            reviewer_organ: self.reviewer_organ,
            reviewed_by_token: self.reviewed_by_token,
            reviewed_at: from_storage_micros(self.reviewed_at)?,
        })
    }
}

/// A date as stored: ISO 8601 text, which compares as the dates do.
fn to_storage_date(date: Date) -> String {
    date.to_string()
}

fn from_storage_date(stored: &str) -> Result<Date> {
    parse_iso_date(stored).map_err(|reason| corrupt_stored_data(&format!("stored date: {reason}")))
}

/// `% word %`: the word whole, between the spaces that delimit every word
/// of the search columns ([`SearchColumns`]), with the `LIKE` wildcards in
/// it escaped so they mean themselves.
fn word_pattern(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 4);
    pattern.push_str("% ");
    for character in word.chars() {
        if matches!(character, '%' | '_') || character == LIKE_ESCAPE {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(character);
    }
    pattern.push_str(" %");
    pattern
}

/// The layout of the search columns this store writes (migration 0010):
/// the words alone, each between single spaces.
const SEARCH_LAYOUT: i64 = 2;

/// Resolutions brought to [`SEARCH_LAYOUT`] per transaction.
const SEARCH_REBUILD_BATCH: i64 = 500;

/// Brings the search columns of rows in an older layout up to date, batch
/// by batch, when the store opens. Servers starting together may each do
/// some of it; the values they write are the same.
pub(crate) async fn rebuild_search_columns(pool: &sqlx::AnyPool) -> Result<()> {
    let mut after = 0_i64;
    loop {
        let mut transaction = pool
            .begin()
            .await
            .or_database_failure("starting a search rebuild")?;
        let stale: Vec<(i64, String, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, title, summary FROM resolutions WHERE search_layout < $1 AND id > $2 \
             ORDER BY id LIMIT {SEARCH_REBUILD_BATCH}"
        )))
        .bind(SEARCH_LAYOUT)
        .bind(after)
        .fetch_all(&mut *transaction)
        .await
        .or_database_failure("finding resolutions to index for search")?;
        let Some(&(last, _, _)) = stale.last() else {
            return Ok(());
        };
        for (id, title, summary) in &stale {
            let search = SearchColumns::of(title, summary);
            sqlx::query(
                "UPDATE resolutions SET search_text = $1, search_folded = $2, search_layout = $3 WHERE id = $4",
            )
            .bind(search.with_diacritics)
            .bind(search.without_diacritics)
            .bind(SEARCH_LAYOUT)
            .bind(*id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("indexing a resolution for search")?;
        }
        transaction
            .commit()
            .await
            .or_database_failure("committing a search rebuild")?;
        after = last;
    }
}

#[async_trait]
impl ResolutionStore for SqlStore {
    async fn insert_resolution(&self, resolution: &NewResolution, key: &IdempotencyKey) -> Result<i64> {
        let content = &resolution.content;
        let filed_at = to_storage_micros(resolution.filed_at)?;
        let search = SearchColumns::of(&content.title, &content.summary);
        let mut transaction = self.begin_write().await?;
        record_idempotency_key(&mut transaction, key, RESOURCE_NOT_YET_KNOWN, filed_at).await?;
        if let Some(superseded_id) = resolution.supersedes
            && let Err(refusal) = check_still_supersedable(&mut transaction, superseded_id).await
        {
            roll_back(transaction).await?;
            return Err(refusal);
        }
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO resolutions (issuing_organ_id, locality_code, symbol, symbol_key, adoption_year, \
             adoption_date, effective_date, topic, title, summary, full_text, search_text, search_folded, \
             search_layout, budget_vnd, supersedes, status, review_count, filed_at, filed_by_token, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $19, $14, $15, $16, 0, $17, $18, $17) \
             RETURNING id",
        )
        .bind(&resolution.issuing_organ_id)
        .bind(&resolution.locality_code)
        .bind(content.symbol.as_str())
        .bind(content.symbol.key())
        .bind(i64::from(content.adopted_on.year()))
        .bind(to_storage_date(content.adopted_on))
        .bind(to_storage_date(content.effective_on))
        .bind(&content.topic)
        .bind(&content.title)
        .bind(&content.summary)
        .bind(&content.full_text)
        .bind(search.with_diacritics)
        .bind(search.without_diacritics)
        .bind(content.budget_vnd)
        .bind(resolution.supersedes)
        .bind(ResolutionStatus::PendingReview.as_str())
        .bind(filed_at)
        .bind(resolution.filed_by_token)
        .bind(SEARCH_LAYOUT)
        .fetch_one(&mut *transaction)
        .await;
        let resolution_id = match inserted {
            Ok(resolution_id) => resolution_id,
            Err(error) if is_unique_violation(&error) => {
                roll_back(transaction).await?;
                return Err(self.resolution_conflict(resolution).await);
            }
            Err(error) => return Err(database_failure("filing a resolution", &error)),
        };
        if let Some(superseded_id) = resolution.supersedes {
            // Compare-and-set: only a resolution nothing superseded yet.
            let marked = sqlx::query(
                "UPDATE resolutions SET superseded_by = $1, updated_at = $2 \
                 WHERE id = $3 AND superseded_by IS NULL",
            )
            .bind(resolution_id)
            .bind(filed_at)
            .bind(superseded_id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("marking a superseded resolution")?;
            if marked.rows_affected() == 0 {
                roll_back(transaction).await?;
                return Err(self.supersede_refusal(superseded_id).await);
            }
        }
        set_idempotency_resource(&mut transaction, key, &resolution_name(resolution_id)).await?;
        commit(transaction).await?;
        Ok(resolution_id)
    }

    async fn record_resolution_review(
        &self,
        review: &NewResolutionReview,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let decision = &review.review;
        let expected_review_count = decision.sequence.saturating_sub(1);
        let reviewed_at = to_storage_micros(decision.reviewed_at)?;
        let mut transaction = self.begin_write().await?;
        record_idempotency_key(
            &mut transaction,
            key,
            &resolution_name(review.resolution_id),
            reviewed_at,
        )
        .await?;
        let updated = sqlx::query(
            "UPDATE resolutions SET status = $1, review_count = $2, updated_at = $3 \
             WHERE id = $4 AND status = $5 AND review_count = $6",
        )
        .bind(decision.verdict.outcome().as_str())
        .bind(i64::from(decision.sequence))
        .bind(reviewed_at)
        .bind(review.resolution_id)
        .bind(review.expected_status.as_str())
        .bind(i64::from(expected_review_count))
        .execute(&mut *transaction)
        .await
        .or_database_failure("recording a resolution's review")?;
        if updated.rows_affected() == 0 {
            roll_back(transaction).await?;
            return Err(self
                .resolution_changed_meanwhile(
                    review.resolution_id,
                    review.expected_status,
                    expected_review_count,
                )
                .await);
        }
        sqlx::query(
            "INSERT INTO resolution_reviews (resolution_id, sequence, verdict, comment, reviewer_organ, \
             reviewed_by_token, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(review.resolution_id)
        .bind(i64::from(decision.sequence))
        .bind(decision.verdict.as_str())
        .bind(&decision.comment)
        .bind(&decision.reviewer_organ)
        .bind(decision.reviewed_by_token)
        .bind(reviewed_at)
        .execute(&mut *transaction)
        .await
        .or_database_failure("storing a resolution's review")?;
        commit(transaction).await
    }

    async fn get_resolution(&self, id: i64) -> Result<Option<Resolution>> {
        let mut query = NumberedQuery::new(RESOLUTION_SELECT);
        query.push_condition("id = {}", id)?;
        Ok(self.fetch_resolutions(query).await?.pop())
    }

    async fn get_resolution_full_text(&self, id: i64) -> Result<Option<String>> {
        sqlx::query_scalar::<_, String>("SELECT full_text FROM resolutions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .or_database_failure("reading a resolution's full text")
    }

    async fn list_resolutions(
        &self,
        filter: &ResolutionFilter,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Resolution>> {
        let mut query = NumberedQuery::new(RESOLUTION_SELECT);
        if let Some(organ_id) = &filter.issuing_organ_id {
            query.push_condition("issuing_organ_id = {}", organ_id.as_str())?;
        }
        if let Some(locality_code) = &filter.locality_code {
            query.push_condition("locality_code = {}", locality_code.as_str())?;
        }
        if let Some(topic) = &filter.topic {
            query.push_condition("topic = {}", topic.as_str())?;
        }
        if let Some(from) = filter.adopted_from {
            query.push_condition("adoption_date >= {}", to_storage_date(from))?;
        }
        if let Some(to) = filter.adopted_to {
            query.push_condition("adoption_date <= {}", to_storage_date(to))?;
        }
        if let Some(status) = filter.status {
            query.push_condition("status = {}", status.as_str())?;
        }
        for term in &filter.terms {
            let column = if term.ignores_diacritics {
                "search_folded"
            } else {
                "search_text"
            };
            query.push_condition(
                &format!("{column} LIKE {{}} ESCAPE '{LIKE_ESCAPE}'"),
                word_pattern(&term.text),
            )?;
        }
        if let Some(after_id) = after_id {
            query.push_condition("id > {}", after_id)?;
        }
        query.push_order_and_limit("id", limit);
        self.fetch_resolutions(query).await
    }
}

/// Refuses, inside the filing transaction, to supersede a resolution that
/// does not exist or that another one superseded already.
async fn check_still_supersedable(transaction: &mut WriteTransaction, superseded_id: i64) -> Result<()> {
    let successor =
        sqlx::query_scalar::<_, Option<i64>>("SELECT superseded_by FROM resolutions WHERE id = $1")
            .bind(superseded_id)
            .fetch_optional(&mut **transaction)
            .await
            .or_database_failure("reading a superseded resolution")?;
    match successor {
        None => Err(Error::not_found(
            ResourceKind::Resolution,
            resolution_name(superseded_id),
        )),
        Some(Some(successor_id)) => Err(already_superseded(superseded_id, successor_id)),
        Some(None) => Ok(()),
    }
}

impl SqlStore {
    /// Resolutions with their reviews, in the query's order. The reviews of
    /// the whole page come in one query rather than one per resolution.
    async fn fetch_resolutions(&self, query: NumberedQuery) -> Result<Vec<Resolution>> {
        let (sql, arguments) = query.into_parts();
        let rows = sqlx::query_as_with::<_, ResolutionRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading resolutions")?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut reviews_query = NumberedQuery::new(
            "SELECT resolution_id, sequence, verdict, comment, reviewer_organ, reviewed_by_token, reviewed_at \
             FROM resolution_reviews",
        );
        reviews_query.push_condition_in("resolution_id IN ({})", rows.iter().map(|row| row.id))?;
        reviews_query.push_sql(" ORDER BY resolution_id, sequence");
        let (sql, arguments) = reviews_query.into_parts();
        let mut reviews_by_resolution: HashMap<i64, Vec<ResolutionReview>> = HashMap::new();
        for review_row in sqlx::query_as_with::<_, ReviewRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading resolution reviews")?
        {
            reviews_by_resolution
                .entry(review_row.resolution_id)
                .or_default()
                .push(review_row.into_review()?);
        }
        rows.into_iter()
            .map(|row| {
                let reviews = reviews_by_resolution.remove(&row.id).unwrap_or_default();
                row.into_resolution(reviews)
            })
            .collect()
    }

    /// Why a new resolution broke a unique constraint: its symbol is taken
    /// (`AlreadyExists`, naming the resolution that has it), or the one it
    /// supersedes was superseded by a concurrent filing.
    async fn resolution_conflict(&self, resolution: &NewResolution) -> Error {
        let content = &resolution.content;
        let existing = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM resolutions WHERE issuing_organ_id = $1 AND adoption_year = $2 AND symbol_key = $3",
        )
        .bind(&resolution.issuing_organ_id)
        .bind(i64::from(content.adopted_on.year()))
        .bind(content.symbol.key())
        .fetch_optional(&self.pool)
        .await;
        match (existing, resolution.supersedes) {
            (Ok(Some(existing_id)), _) => Error::AlreadyExists {
                kind: ResourceKind::Resolution,
                name: resolution_name(existing_id),
                reason: format!(
                    "organ {} already filed symbol {} for {}",
                    resolution.issuing_organ_id,
                    content.symbol.as_str(),
                    content.adopted_on.year()
                ),
            },
            (Ok(None), Some(superseded_id)) => self.supersede_refusal(superseded_id).await,
            (Ok(None), None) => {
                Error::Internal("a resolution conflicted with one that cannot be found".to_owned())
            }
            (Err(error), _) => database_failure("finding the conflicting resolution", &error),
        }
    }

    /// Why marking a resolution superseded matched nothing.
    async fn supersede_refusal(&self, superseded_id: i64) -> Error {
        match self.get_resolution(superseded_id).await {
            Ok(None) => Error::not_found(ResourceKind::Resolution, resolution_name(superseded_id)),
            Ok(Some(Resolution {
                superseded_by: Some(successor_id),
                ..
            })) => already_superseded(superseded_id, successor_id),
            Ok(Some(_)) => Error::Internal(format!(
                "{} could not be marked superseded though nothing supersedes it",
                resolution_name(superseded_id)
            )),
            Err(error) => error,
        }
    }

    /// Why a compare-and-set on a resolution matched nothing: it is gone
    /// (`NotFound`) or no longer in the expected status and review count.
    async fn resolution_changed_meanwhile(
        &self,
        resolution_id: i64,
        expected_status: ResolutionStatus,
        expected_review_count: u32,
    ) -> Error {
        match self.get_resolution(resolution_id).await {
            Ok(None) => Error::not_found(ResourceKind::Resolution, resolution_name(resolution_id)),
            Ok(Some(current)) => Error::FailedPrecondition {
                violation_type: "CONCURRENT_CHANGE",
                subject: resolution_name(resolution_id),
                description: format!(
                    "the resolution changed meanwhile: it is {} after {} decisions, not {} after {}; \
                     read it again",
                    current.status.as_str(),
                    current.reviews.len(),
                    expected_status.as_str(),
                    expected_review_count
                ),
            },
            Err(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_are_escaped() {
        assert_eq!(word_pattern("ngân"), "% ngân %");
        assert_eq!(word_pattern("100%_a\\b"), "% 100\\%\\_a\\\\b %");
    }
}
