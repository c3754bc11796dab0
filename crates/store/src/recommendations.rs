//! Recommendations, clusters and the shared dedup index (LSH band keys,
//! document frequencies). Recording a recommendation reads the candidates,
//! runs the domain's decision and applies it in one write transaction that
//! holds the database-wide recommendation lock, so two near-identical
//! submissions arriving together end in one cluster, on one server or many.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use lienthong_dedup::{
    Analysis, CandidateLimits, Decision, MAX_POSTINGS_PER_BAND, rank_candidates, terms_to_weigh,
};
use lienthong_domain::directory::Bloc;
use lienthong_domain::error::ResourceKind;
use lienthong_domain::recommendation::{
    AnalyzeFn, Cluster, ClusterAction, ClusterAnswer, ClusterDecision, ClusterExpectation, ClusterFilter,
    ClusterRanking, ClusterStatus, CorpusSnapshot, DecideFn, DedupContext, DedupOutcome, NewRecommendation,
    OutcomeCount, RankedCluster, Recommendation, RecommendationEvent, RecommendationStanding,
    RecommendationStore, RecordedDecision, RecordedRecommendation, StoredCandidate, Suggestion,
};
use lienthong_domain::store::IdempotencyKey;
use lienthong_domain::{Error, Result};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor};
use time::OffsetDateTime;

use crate::connection::Backend;
use crate::conversion::{from_storage_micros, from_storage_name, to_storage_micros};
use crate::error::{DatabaseResultExt as _, corrupt_stored_data};
use crate::idempotency::record_idempotency_key;
use crate::numbered_query::NumberedQuery;
use crate::sql_store::{SqlStore, commit};

/// Key of the PostgreSQL advisory lock that serialises dedup decisions
/// ("lt" + "rec" in ASCII); SQLite's `BEGIN IMMEDIATE` serialises already.
const DEDUP_LOCK_KEY: i64 = 0x006c_7472_6563;

/// Recommendations re-analysed per transaction of a reindex: each holds
/// the recommendation lock for a moment, not for the whole run.
const REINDEX_BATCH: i64 = 500;

const RECOMMENDATION_SELECT: &str = "SELECT id, organ_id, bloc, locality_code, text, topic, addressee, source, \
     cluster_id, outcome, matched_recommendation_id, matched_cluster_id, match_score, submitted_at, imported_by \
     FROM recommendations";

const CLUSTER_SELECT: &str = "SELECT c.id, c.status, c.representative_id, r.text AS representative_text, c.topic, \
     c.addressee, c.assigned_department, c.answer_text, c.answer_organ, c.answer_document, \
     c.answer_document_date, c.answered_at, c.escalation_proposal, c.member_count, c.first_seen, c.last_seen \
     FROM clusters c JOIN recommendations r ON r.id = c.representative_id";

/// A 64-bit hash stored in a signed column, bit for bit.
fn to_storage_hash(hash: u64) -> i64 {
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Sorted distinct localities and blocs of (locality, bloc) rows; blocs in
/// their declared order.
fn distinct_localities_and_blocs(rows: Vec<(String, String)>) -> Result<(Vec<String>, Vec<Bloc>)> {
    let mut locality_codes: Vec<String> = Vec::new();
    let mut blocs: Vec<Bloc> = Vec::new();
    for (locality_code, bloc) in rows {
        if !locality_codes.contains(&locality_code) {
            locality_codes.push(locality_code);
        }
        let bloc = from_storage_name(&bloc, Bloc::parse, "bloc")?;
        if !blocs.contains(&bloc) {
            blocs.push(bloc);
        }
    }
    locality_codes.sort();
    blocs.sort_by_key(|bloc| Bloc::ALL.iter().position(|known| known == bloc));
    Ok((locality_codes, blocs))
}

#[derive(sqlx::FromRow)]
struct RecommendationRow {
    id: i64,
    organ_id: String,
    bloc: String,
    locality_code: String,
    text: String,
    topic: Option<String>,
    addressee: String,
    source: Option<String>,
    cluster_id: i64,
    outcome: String,
    matched_recommendation_id: Option<i64>,
    matched_cluster_id: Option<i64>,
    match_score: f64,
    submitted_at: i64,
    imported_by: Option<String>,
}

impl RecommendationRow {
    fn into_recommendation(self, pending_suggestions: Vec<Suggestion>) -> Result<Recommendation> {
        let matched = match (self.matched_recommendation_id, self.matched_cluster_id) {
            (Some(recommendation_id), Some(cluster_id)) => Some(Suggestion {
                recommendation_id,
                cluster_id,
                score: self.match_score,
            }),
            _ => None,
        };
        Ok(Recommendation {
            id: self.id,
            organ_id: self.organ_id,
            bloc: from_storage_name(&self.bloc, Bloc::parse, "bloc")?,
            locality_code: self.locality_code,
            text: self.text,
            topic: self.topic,
            addressee: self.addressee,
            source: self.source,
            cluster_id: self.cluster_id,
            outcome: from_storage_name(&self.outcome, DedupOutcome::parse, "dedup outcome")?,
            submitted_at: from_storage_micros(self.submitted_at)?,
            imported_by: self.imported_by,
            matched,
            pending_suggestions,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ClusterRow {
    id: i64,
    status: String,
    representative_id: i64,
    representative_text: String,
    topic: Option<String>,
    addressee: String,
    assigned_department: Option<String>,
    answer_text: Option<String>,
    answer_organ: Option<String>,
    answer_document: Option<String>,
    answer_document_date: Option<String>,
    answered_at: Option<i64>,
    escalation_proposal: Option<String>,
    member_count: i64,
    first_seen: i64,
    last_seen: i64,
}

#[derive(sqlx::FromRow)]
struct StandingRow {
    id: i64,
    text: String,
    cluster_id: i64,
    status: String,
    answer_text: Option<String>,
    answer_organ: Option<String>,
    answer_document: Option<String>,
    answer_document_date: Option<String>,
    answered_at: Option<i64>,
}

impl StandingRow {
    fn into_standing(self) -> Result<RecommendationStanding> {
        Ok(RecommendationStanding {
            recommendation_id: self.id,
            text: self.text,
            cluster_id: self.cluster_id,
            cluster_status: from_storage_name(&self.status, ClusterStatus::parse, "cluster status")?,
            answer: stored_answer(
                self.answer_text,
                self.answer_organ,
                self.answer_document,
                self.answer_document_date,
                self.answered_at,
            )?,
        })
    }
}

/// Where each of `ids` stands, in one statement; unknown ids are left out.
async fn read_standings<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    ids: &[i64],
) -> Result<Vec<RecommendationStanding>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = NumberedQuery::new(
        "SELECT r.id, r.text, r.cluster_id, c.status, c.answer_text, c.answer_organ, c.answer_document, \
         c.answer_document_date, c.answered_at FROM recommendations r JOIN clusters c ON c.id = r.cluster_id",
    );
    query.push_condition_in("r.id IN ({})", ids.iter().copied())?;
    let (sql, arguments) = query.into_parts();
    sqlx::query_as_with::<_, StandingRow, _>(sql, arguments)
        .fetch_all(executor)
        .await
        .or_database_failure("reading where recommendations stand")?
        .into_iter()
        .map(StandingRow::into_standing)
        .collect()
}

/// The answer of a cluster from its answer columns, if it has one.
fn stored_answer(
    text: Option<String>,
    answering_organ: Option<String>,
    document: Option<String>,
    document_date: Option<String>,
    answered_at: Option<i64>,
) -> Result<Option<ClusterAnswer>> {
    let (Some(text), Some(answering_organ), Some(document), Some(date), Some(answered_at)) =
        (text, answering_organ, document, document_date, answered_at)
    else {
        return Ok(None);
    };
    Ok(Some(ClusterAnswer {
        text,
        answering_organ,
        document,
        document_date: time::Date::parse(&date, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| corrupt_stored_data(&format!("{date:?} is not an answer date")))?,
        answered_at: from_storage_micros(answered_at)?,
    }))
}

impl ClusterRow {
    fn into_cluster(self, locality_codes: Vec<String>, blocs: Vec<Bloc>) -> Result<Cluster> {
        let answer = stored_answer(
            self.answer_text,
            self.answer_organ,
            self.answer_document,
            self.answer_document_date,
            self.answered_at,
        )?;
        Ok(Cluster {
            id: self.id,
            status: from_storage_name(&self.status, ClusterStatus::parse, "cluster status")?,
            representative_id: self.representative_id,
            representative_text: self.representative_text,
            topic: self.topic,
            addressee: self.addressee,
            assigned_department: self.assigned_department,
            answer,
            escalation_proposal: self.escalation_proposal,
            member_count: u32::try_from(self.member_count)
                .map_err(|_| corrupt_stored_data("a negative member count"))?,
            locality_codes,
            blocs,
            first_seen: from_storage_micros(self.first_seen)?,
            last_seen: from_storage_micros(self.last_seen)?,
        })
    }
}

fn parse_analysis(stored: &str) -> Result<Analysis> {
    serde_json::from_str(stored)
        .map_err(|_| corrupt_stored_data("a stored recommendation analysis is not valid"))
}

/// Separators of values packed into one text column (ASCII's unit and
/// record separators): stored JSON escapes control characters and terms
/// have none, so neither occurs in what they separate.
const UNIT: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// The records of a column packed with [`RECORD`]; none when it is NULL.
fn records(packed: Option<&str>) -> impl Iterator<Item = &str> {
    packed
        .unwrap_or_default()
        .split(RECORD)
        .filter(|record| !record.is_empty())
}

/// Finds candidates for `analysis` by band and exact keys and reads the
/// corpus statistics for the terms in play, on `connection` (inside the
/// write transaction when recording).
async fn load_dedup_context(
    connection: &mut AnyConnection,
    backend: Backend,
    analysis: &Analysis,
    limits: CandidateLimits,
) -> Result<DedupContext> {
    let (exact_duplicates, shared) = find_candidates(connection, backend, analysis, limits).await?;
    let candidate_ids = rank_candidates(&exact_duplicates, &shared, limits.max_candidates);

    let candidates = read_candidates(connection, backend, &candidate_ids).await?;

    let terms = terms_to_weigh(
        analysis,
        candidates
            .iter()
            .flat_map(|candidate| [&*candidate.analysis, &*candidate.cluster_canonical]),
    );
    // One row of `term UNIT count RECORD …` rather than a row per term: each
    // row costs more to hand over than the lookup that finds it. Terms are
    // letters, digits and spaces, so neither separator occurs in one. The
    // corpus size comes along, saving a round trip.
    let sql = format!(
        "SELECT (SELECT document_count FROM dedup_corpus WHERE id = 1), \
         string_agg(term || '{UNIT}' || document_count, '{RECORD}') FROM dedup_terms \
         WHERE term IN ({})",
        backend.json_array_elements("$1")
    );
    let (document_count, packed): (i64, Option<String>) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(json_parameter(&terms)?)
        .fetch_one(&mut *connection)
        .await
        .or_database_failure("reading document frequencies")?;
    let mut document_frequencies = HashMap::with_capacity(terms.len());
    for entry in records(packed.as_deref()) {
        let (term, count) = entry
            .rsplit_once(UNIT)
            .and_then(|(term, count)| Some((term, count.parse::<u64>().ok()?)))
            .ok_or_else(|| corrupt_stored_data("a stored document frequency is not a count"))?;
        document_frequencies.insert(term.to_owned(), count);
    }
    Ok(DedupContext {
        candidates,
        corpus: CorpusSnapshot {
            document_count: u64::try_from(document_count).unwrap_or(0),
            document_frequencies,
        },
    })
}

/// The candidates with their analyses and their clusters' canonical ones,
/// in one statement and one row: each cluster's canonical analysis comes
/// with its lowest-numbered candidate, unless that candidate is the
/// canonical one. Each stored analysis is parsed once, however many
/// candidates share it: candidates of one cluster share its canonical
/// member, which is often a candidate too. The row is text separated as the
/// document frequencies are: a JSON array would escape every quote of the
/// analyses only for them to be unescaped here.
async fn read_candidates(
    connection: &mut AnyConnection,
    backend: Backend,
    ids: &[i64],
) -> Result<Vec<StoredCandidate>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT string_agg(CAST(id AS TEXT) || '{UNIT}' || CAST(cluster_id AS TEXT) || '{UNIT}' || \
           CAST(representative_id AS TEXT) || '{UNIT}' || analysis || '{UNIT}' || \
           COALESCE(canonical_analysis, ''), '{RECORD}' ORDER BY cluster_id, id) FROM (\
           SELECT r.id, r.cluster_id, c.representative_id, r.analysis, \
             CASE WHEN ROW_NUMBER() OVER (PARTITION BY r.cluster_id ORDER BY r.id) = 1 \
               AND c.representative_id <> r.id THEN canonical.analysis END AS canonical_analysis \
           FROM recommendations r JOIN clusters c ON c.id = r.cluster_id \
           LEFT JOIN recommendations canonical ON canonical.id = c.representative_id \
           WHERE r.id IN (SELECT CAST(element AS BIGINT) FROM ({}) AS ids)\
         ) AS candidates",
        backend.json_array_elements("$1"),
    );
    let packed: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(json_parameter(ids)?)
        .fetch_one(&mut *connection)
        .await
        .or_database_failure("reading candidate recommendations")?;
    let malformed = || corrupt_stored_data("candidate recommendations came back malformed");
    let mut rows = Vec::with_capacity(ids.len());
    for record in records(packed.as_deref()) {
        let mut fields = record.split(UNIT);
        let mut id = || -> Result<i64> { fields.next().and_then(|id| id.parse().ok()).ok_or_else(malformed) };
        let (recommendation_id, cluster_id, canonical) = (id()?, id()?, id()?);
        let (Some(analysis), Some(canonical_analysis), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed());
        };
        rows.push((
            recommendation_id,
            cluster_id,
            canonical,
            analysis,
            (!canonical_analysis.is_empty()).then_some(canonical_analysis),
        ));
    }
    let mut analyses: HashMap<i64, Arc<Analysis>> = HashMap::with_capacity(rows.len());
    for &(id, _, canonical, analysis, canonical_analysis) in &rows {
        for (id, analysis) in [(id, Some(analysis)), (canonical, canonical_analysis)] {
            if let Some(analysis) = analysis
                && !analyses.contains_key(&id)
            {
                analyses.insert(id, Arc::new(parse_analysis(analysis)?));
            }
        }
    }
    rows.into_iter()
        .map(|(recommendation_id, cluster_id, canonical, _, _)| {
            let analysis_of = |id: i64| {
                analyses.get(&id).cloned().ok_or_else(|| {
                    corrupt_stored_data("a cluster names a representative that does not exist")
                })
            };
            Ok(StoredCandidate {
                recommendation_id,
                cluster_id,
                analysis: analysis_of(recommendation_id)?,
                cluster_canonical: analysis_of(canonical)?,
            })
        })
        .collect()
}

/// In one statement, the exact duplicates of `analysis` (oldest first, as
/// many as could be candidates) and the recommendations found under its
/// band keys, each once with the number of keys it is found under, as the
/// batch clusterer counts them: each key reads at most its oldest
/// `max_postings_per_band` index entries, however common it is. Both come
/// back as lists of ids in one row and the postings are counted here: a row
/// per posting or a `GROUP BY` with its sorts in the database would each
/// cost more than the lookups that find them.
async fn find_candidates(
    connection: &mut AnyConnection,
    backend: Backend,
    analysis: &Analysis,
    limits: CandidateLimits,
) -> Result<(Vec<i64>, Vec<(i64, u64)>)> {
    let mut query = NumberedQuery::new(
        "SELECT (SELECT string_agg(CAST(id AS TEXT), ',') FROM \
           (SELECT id FROM recommendations WHERE exact_key = ",
    );
    query.push_bind(to_storage_hash(analysis.exact_key))?;
    query.push_sql(&format!(
        " ORDER BY id LIMIT {}) AS exact), ",
        limits.max_candidates
    ));
    let band_keys = analysis.distinct_band_keys();
    let per_band = limits.max_postings_per_band;
    if band_keys.is_empty() || per_band == 0 {
        query.push_sql("CAST(NULL AS TEXT)");
    } else {
        query.push_sql("(SELECT string_agg(CAST(recommendation_id AS TEXT), ',') FROM (");
        push_postings(&mut query, backend, &band_keys, per_band)?;
        query.push_sql(") AS postings)");
    }
    let (sql, arguments) = query.into_parts();
    let (exact, postings): (Option<String>, Option<String>) = sqlx::query_as_with(sql, arguments)
        .fetch_one(&mut *connection)
        .await
        .or_database_failure("looking up exact duplicates and LSH band keys")?;
    let exact = parse_ids(exact.as_deref())?;
    let mut postings = parse_ids(postings.as_deref())?;
    postings.sort_unstable();
    let shared = postings
        .chunk_by(|left, right| left == right)
        .filter_map(|run| Some((*run.first()?, u64::try_from(run.len()).ok()?)))
        .collect();
    Ok((exact, shared))
}

/// A query of the recommendation ids among the oldest `per_band` postings
/// of each of `band_keys`, repeated once per key they are found under.
fn push_postings(
    query: &mut NumberedQuery,
    backend: Backend,
    band_keys: &[u64],
    per_band: usize,
) -> Result<()> {
    match backend {
        // One probe per key of an array: the same rows, found in 0.8 ms
        // rather than the 1.2 ms of a union of 42 branches (100 000 stored).
        // The array travels as text, which the `Any` driver can bind.
        Backend::Postgres => {
            let keys: Vec<String> = band_keys
                .iter()
                .map(|key| to_storage_hash(*key).to_string())
                .collect();
            query.push_sql("SELECT p.recommendation_id FROM unnest(CAST(CAST(");
            query.push_bind(format!("{{{}}}", keys.join(",")))?;
            query.push_sql(&format!(
                " AS text) AS bigint[])) AS k (band_key) CROSS JOIN LATERAL (SELECT recommendation_id \
                 FROM recommendation_bands b WHERE b.band_key = k.band_key ORDER BY recommendation_id \
                 LIMIT {per_band}) AS p"
            ));
        }
        Backend::Sqlite => {
            for (index, key) in band_keys.iter().enumerate() {
                if index > 0 {
                    query.push_sql(" UNION ALL ");
                }
                query.push_sql(
                    "SELECT recommendation_id FROM (SELECT recommendation_id FROM recommendation_bands \
                     WHERE band_key = ",
                );
                query.push_bind(to_storage_hash(*key))?;
                query.push_sql(&format!(
                    " ORDER BY recommendation_id LIMIT {per_band}) AS band_{index}"
                ));
            }
        }
    }
    Ok(())
}

/// Recommendation ids written as one comma-separated list.
fn parse_ids(packed: Option<&str>) -> Result<Vec<i64>> {
    packed
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| corrupt_stored_data("a list of recommendation ids holds something else"))
        })
        .collect()
}

/// Indexes `recommendation_id` under its band keys, except those already
/// holding [`MAX_POSTINGS_PER_BAND`] older recommendations: no decision
/// reads past them. Counting only older ones keeps the oldest under every
/// key as long as none leaves a key, which only a reindex does (and then
/// indexes the younger ones again). Keys already indexed are left as they
/// are.
async fn insert_band_keys(
    connection: &mut AnyConnection,
    backend: Backend,
    recommendation_id: i64,
    analysis: &Analysis,
) -> Result<()> {
    let band_keys: Vec<i64> = analysis
        .distinct_band_keys()
        .into_iter()
        .map(to_storage_hash)
        .collect();
    if band_keys.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO recommendation_bands (band_key, recommendation_id) \
         SELECT k.band_key, $2 FROM (SELECT CAST(element AS BIGINT) AS band_key FROM ({}) AS keys) AS k \
         WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM recommendation_bands b \
           WHERE b.band_key = k.band_key AND b.recommendation_id < $2 \
           LIMIT {MAX_POSTINGS_PER_BAND}) AS older) < {MAX_POSTINGS_PER_BAND} \
         ON CONFLICT DO NOTHING",
        backend.json_array_elements("$1")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(json_parameter(&band_keys)?)
        .bind(recommendation_id)
        .execute(&mut *connection)
        .await
        .or_database_failure("indexing band keys")?;
    Ok(())
}

/// Records the suggestions an officer is to settle, in rank order.
async fn insert_suggestions(
    connection: &mut AnyConnection,
    recommendation_id: i64,
    suggestions: &[Suggestion],
) -> Result<()> {
    if suggestions.is_empty() {
        return Ok(());
    }
    let mut query = NumberedQuery::new(
        "INSERT INTO recommendation_suggestions (recommendation_id, rank, suggested_recommendation_id, \
           suggested_cluster_id, score) VALUES ",
    );
    for (rank, suggestion) in suggestions.iter().enumerate() {
        query.push_sql(if rank == 0 { "(" } else { ", (" });
        query.push_bind(recommendation_id)?.push_sql(", ");
        query
            .push_bind(i64::try_from(rank).unwrap_or(i64::MAX))?
            .push_sql(", ");
        query.push_bind(suggestion.recommendation_id)?.push_sql(", ");
        query.push_bind(suggestion.cluster_id)?.push_sql(", ");
        query.push_bind(suggestion.score)?.push_sql(")");
    }
    let (sql, arguments) = query.into_parts();
    sqlx::query_with(sql, arguments)
        .execute(&mut *connection)
        .await
        .or_database_failure("recording review suggestions")?;
    Ok(())
}

/// Recomputes a cluster's member count, distinct localities and blocs and
/// activity span from its members.
async fn refresh_cluster_counts(connection: &mut AnyConnection, cluster_id: i64, at: i64) -> Result<()> {
    sqlx::query(
        "UPDATE clusters SET \
           member_count = (SELECT COUNT(*) FROM recommendations WHERE cluster_id = $1), \
           distinct_localities = (SELECT COUNT(DISTINCT locality_code) FROM recommendations WHERE cluster_id = $1), \
           distinct_blocs = (SELECT COUNT(DISTINCT bloc) FROM recommendations WHERE cluster_id = $1), \
           first_seen = COALESCE((SELECT MIN(submitted_at) FROM recommendations WHERE cluster_id = $1), first_seen), \
           last_seen = COALESCE((SELECT MAX(submitted_at) FROM recommendations WHERE cluster_id = $1), last_seen), \
           updated_at = $2 \
         WHERE id = $1",
    )
    .bind(cluster_id)
    .bind(at)
    .execute(&mut *connection)
    .await
    .or_database_failure("refreshing cluster counts")?;
    Ok(())
}

/// Counts a new member into its cluster without reading the others: a
/// cluster of a thousand members would otherwise be recounted on every
/// submission. A locality or bloc counts as new when no other member has it
/// (indexed lookups). A cluster just opened (representative 0) takes its
/// first member as representative in the same statement. Moves and merges
/// recount with [`refresh_cluster_counts`].
async fn count_new_member(
    connection: &mut AnyConnection,
    cluster_id: i64,
    recommendation_id: i64,
    new: &NewRecommendation,
) -> Result<()> {
    sqlx::query(
        "UPDATE clusters SET \
           representative_id = CASE WHEN representative_id = 0 THEN $2 ELSE representative_id END, \
           member_count = member_count + 1, \
           distinct_localities = distinct_localities + CASE WHEN EXISTS (SELECT 1 FROM recommendations \
             WHERE cluster_id = $1 AND locality_code = $3 AND id <> $2) THEN 0 ELSE 1 END, \
           distinct_blocs = distinct_blocs + CASE WHEN EXISTS (SELECT 1 FROM recommendations \
             WHERE cluster_id = $1 AND bloc = $4 AND id <> $2) THEN 0 ELSE 1 END, \
           first_seen = CASE WHEN $5 < first_seen THEN $5 ELSE first_seen END, \
           last_seen = CASE WHEN $5 > last_seen THEN $5 ELSE last_seen END, \
           updated_at = $6 \
         WHERE id = $1",
    )
    .bind(cluster_id)
    .bind(recommendation_id)
    .bind(&new.locality_code)
    .bind(new.bloc.as_str())
    .bind(to_storage_micros(new.submitted_at)?)
    .bind(to_storage_micros(new.received_at)?)
    .execute(&mut *connection)
    .await
    .or_database_failure("counting a cluster's new member")?;
    Ok(())
}

/// Refuses to move members of an answered cluster into one that does not
/// carry the same answer: they would lose theirs without a decision saying
/// so. Read under the lock, so an answer given meanwhile counts.
async fn keep_answers(connection: &mut AnyConnection, source: i64, target: i64) -> Result<()> {
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, status, answer_text, answer_document FROM clusters WHERE id = $1 OR id = $2",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&mut *connection)
    .await
    .or_database_failure("comparing cluster answers")?;
    let answer_of = |id: i64| {
        rows.iter()
            .find(|row| row.0 == id)
            .filter(|row| row.1 == ClusterStatus::Answered.as_str())
            .map(|row| (&row.2, &row.3))
    };
    let Some(source_answer) = answer_of(source) else {
        return Ok(());
    };
    match answer_of(target) {
        None => Err(Error::FailedPrecondition {
            violation_type: "ANSWERED_SOURCE",
            subject: format!("clusters/{source}"),
            description: format!(
                "clusters/{source} is answered and clusters/{target} is not, so its members would lose \
                 their answer; reopen clusters/{source} first"
            ),
        }),
        Some(target_answer) if target_answer != source_answer => Err(Error::FailedPrecondition {
            violation_type: "CONFLICTING_ANSWERS",
            subject: format!("clusters/{source}"),
            description: format!(
                "clusters/{source} and clusters/{target} are answered differently; reopen one first"
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// Adds each change to its term's document frequency; a term not counted
/// yet starts from its change. The changes travel as one JSON list of
/// `[term, change]`, so the statement is the same for any number of terms
/// and stays prepared. Each term appears once in `changes`.
async fn change_document_frequencies(
    connection: &mut AnyConnection,
    backend: Backend,
    changes: &[(&str, i64)],
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let changed_terms = match backend {
        // `WHERE true` tells SQLite's parser the ON that follows starts the
        // upsert, not a join constraint.
        Backend::Sqlite => "SELECT value ->> 0, value ->> 1 FROM json_each($1) WHERE true",
        Backend::Postgres => {
            "SELECT change ->> 0, CAST(change ->> 1 AS bigint) FROM jsonb_array_elements(CAST($1 AS jsonb)) AS change"
        }
    };
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO dedup_terms (term, document_count) {changed_terms} \
         ON CONFLICT (term) DO UPDATE SET document_count = dedup_terms.document_count + excluded.document_count"
    )))
    .bind(json_parameter(changes)?)
    .execute(&mut *connection)
    .await
    .or_database_failure("counting document frequencies")?;
    Ok(())
}

/// `values` as a JSON array, to bind a list of any length as one parameter
/// (see [`Backend::json_array_elements`]).
fn json_parameter<T: serde::Serialize>(values: &[T]) -> Result<String> {
    serde_json::to_string(values).map_err(Error::internal)
}

/// Records a decision and its events, in a transaction of
/// [`SqlStore::begin_dedup_write`].
async fn record_decision(
    connection: &mut AnyConnection,
    cluster_id: i64,
    recommendation_id: Option<i64>,
    decision: ClusterDecision,
    actor_organ: &str,
    detail: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO cluster_decisions (cluster_id, recommendation_id, action, actor_organ, detail, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(cluster_id)
    .bind(recommendation_id)
    .bind(decision.as_str())
    .bind(actor_organ)
    .bind(detail)
    .bind(at)
    .execute(&mut *connection)
    .await
    .or_database_failure("recording a cluster decision")?;
    // Every recommendation the decision touches learns of it: the one named,
    // or else every member of the cluster as it now stands.
    let (filter_column, filter_value) = match recommendation_id {
        Some(id) => ("id", id),
        None => ("cluster_id", cluster_id),
    };
    let mut fan_out = NumberedQuery::new(
        "INSERT INTO recommendation_events (organ_id, recommendation_id, cluster_id, action, detail, occurred_at) \
         SELECT organ_id, id, cluster_id, ",
    );
    fan_out
        .push_bind(decision.as_str())?
        .push_sql(", ")
        .push_bind(detail)?
        .push_sql(", ")
        .push_bind(at)?
        .push_sql(" FROM recommendations");
    fan_out.push_condition(&format!("{filter_column} = {{}}"), filter_value)?;
    let (sql, arguments) = fan_out.into_parts();
    sqlx::query_with(sql, arguments)
        .execute(&mut *connection)
        .await
        .or_database_failure("recording recommendation events")?;
    Ok(())
}

/// Compare-and-set: touches a cluster only if it is still in the status the
/// decision was taken on, and not emptied meanwhile.
async fn claim_cluster(connection: &mut AnyConnection, expected: ClusterExpectation, at: i64) -> Result<()> {
    let claimed =
        sqlx::query("UPDATE clusters SET updated_at = $1 WHERE id = $2 AND status = $3 AND member_count > 0")
            .bind(at)
            .bind(expected.cluster_id)
            .bind(expected.status.as_str())
            .execute(&mut *connection)
            .await
            .or_database_failure("claiming a cluster")?;
    if claimed.rows_affected() == 0 {
        return Err(concurrent_change(expected.cluster_id));
    }
    Ok(())
}

/// Names a cluster's oldest remaining member its representative, if the
/// representative left; a cluster left empty keeps the old one.
async fn renew_representative(connection: &mut AnyConnection, cluster_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE clusters SET representative_id = COALESCE(\
           (SELECT MIN(id) FROM recommendations WHERE cluster_id = $1), representative_id) \
         WHERE id = $1 AND representative_id NOT IN (SELECT id FROM recommendations WHERE cluster_id = $1)",
    )
    .bind(cluster_id)
    .execute(&mut *connection)
    .await
    .or_database_failure("renaming a cluster's representative")?;
    Ok(())
}

fn concurrent_change(cluster_id: i64) -> Error {
    Error::FailedPrecondition {
        violation_type: "CONCURRENT_CHANGE",
        subject: format!("clusters/{cluster_id}"),
        description: "the cluster changed meanwhile; read it again".to_owned(),
    }
}

impl SqlStore {
    async fn pending_suggestions(&self, recommendation_id: i64) -> Result<Vec<Suggestion>> {
        let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
            "SELECT suggested_recommendation_id, suggested_cluster_id, score FROM recommendation_suggestions \
             WHERE recommendation_id = $1 ORDER BY rank",
        )
        .bind(recommendation_id)
        .fetch_all(&self.pool)
        .await
        .or_database_failure("reading review suggestions")?;
        Ok(rows
            .into_iter()
            .map(|(recommendation_id, cluster_id, score)| Suggestion {
                recommendation_id,
                cluster_id,
                score,
            })
            .collect())
    }

    async fn recommendations_from(&self, rows: Vec<RecommendationRow>) -> Result<Vec<Recommendation>> {
        let mut recommendations = Vec::with_capacity(rows.len());
        for row in rows {
            let suggestions = if row.outcome == DedupOutcome::NeedsReview.as_str() {
                self.pending_suggestions(row.id).await?
            } else {
                Vec::new()
            };
            recommendations.push(row.into_recommendation(suggestions)?);
        }
        Ok(recommendations)
    }

    async fn clusters_from(&self, rows: Vec<ClusterRow>) -> Result<Vec<Cluster>> {
        let mut clusters = Vec::with_capacity(rows.len());
        for row in rows {
            let members: Vec<(String, String)> = sqlx::query_as(
                "SELECT DISTINCT locality_code, bloc FROM recommendations WHERE cluster_id = $1",
            )
            .bind(row.id)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading cluster members")?;
            let (locality_codes, blocs) = distinct_localities_and_blocs(members)?;
            clusters.push(row.into_cluster(locality_codes, blocs)?);
        }
        Ok(clusters)
    }

    /// A write transaction holding the recommendation lock. Every
    /// transaction that changes clusters or records events begins here, so
    /// on PostgreSQL, too, they commit one at a time: event ids then commit
    /// in ascending order, and a watch that read up to one id never misses
    /// a smaller one committed later.
    async fn begin_dedup_write(&self) -> Result<crate::sql_store::WriteTransaction> {
        self.begin_write_locked(Some(DEDUP_LOCK_KEY)).await
    }
}

#[async_trait]
impl RecommendationStore for SqlStore {
    async fn reindex_recommendations(&self, norm_version: u32, analyze: AnalyzeFn<'_>) -> Result<u64> {
        // Batch by batch, so submissions go on between them; a text of
        // either version is only compared with analyses of its own, so the
        // mix in between costs matches, never wrong ones.
        let newest_stale: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM recommendations WHERE norm_version <> $1")
                .bind(i64::from(norm_version))
                .fetch_one(&self.pool)
                .await
                .or_database_failure("finding the newest stale recommendation")?;
        let Some(newest_stale) = newest_stale else {
            return Ok(0);
        };
        let (mut after, mut reindexed) = (0, 0);
        while let Some((last, batch)) = self.reindex_batch(norm_version, analyze, after).await? {
            after = last;
            reindexed += batch;
        }
        // Recommendations recorded at this version while older ones were
        // stale were left out of band keys those held full; where an older
        // one has since moved to other keys, they belong there now.
        let mut after = newest_stale;
        while let Some(last) = self.reindex_band_keys(norm_version, analyze, after).await? {
            after = last;
        }
        Ok(reindexed)
    }

    async fn recommendation_events(
        &self,
        organ_id: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<RecommendationEvent>> {
        let rows: Vec<(i64, i64, i64, String, String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, recommendation_id, cluster_id, action, detail, occurred_at FROM recommendation_events \
             WHERE organ_id = $1 AND id > $2 ORDER BY id LIMIT {limit}"
        )))
        .bind(organ_id)
        .bind(after_id)
        .fetch_all(&self.pool)
        .await
        .or_database_failure("reading recommendation events")?;
        rows.into_iter()
            .map(
                |(id, recommendation_id, cluster_id, action, detail, occurred_at)| {
                    Ok(RecommendationEvent {
                        id,
                        recommendation_id,
                        cluster_id,
                        decision: from_storage_name(&action, ClusterDecision::parse, "cluster decision")?,
                        detail,
                        occurred_at: from_storage_micros(occurred_at)?,
                    })
                },
            )
            .collect()
    }

    async fn latest_recommendation_event(&self, organ_id: &str) -> Result<i64> {
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM recommendation_events WHERE organ_id = $1")
                .bind(organ_id)
                .fetch_one(&self.pool)
                .await
                .or_database_failure("reading the latest recommendation event")?;
        Ok(latest.unwrap_or(0))
    }

    async fn record_recommendation(
        &self,
        new: &NewRecommendation,
        decide: DecideFn<'_>,
        limits: CandidateLimits,
        key: &IdempotencyKey,
    ) -> Result<RecordedRecommendation> {
        let submitted_at = to_storage_micros(new.submitted_at)?;
        let received_at = to_storage_micros(new.received_at)?;
        let mut transaction = self.begin_dedup_write().await?;
        let context = load_dedup_context(&mut transaction, self.backend, &new.analysis, limits).await?;
        let decision = decide(&context);

        // Where the recommendations the decision names stand, read under
        // the lock so the outcome and the answer it reports agree.
        let named: Vec<i64> = match &decision {
            Decision::Link(best) => vec![best.recommendation_id],
            Decision::Review(ranked) => ranked.iter().map(|scored| scored.recommendation_id).collect(),
            Decision::New => Vec::new(),
        };
        let mut standings = read_standings(&mut *transaction, &named).await?;

        let (cluster_id, outcome, matched, suggestions) = match decision {
            Decision::Link(best) => {
                let cluster = standings
                    .iter()
                    .find(|standing| standing.recommendation_id == best.recommendation_id)
                    .ok_or_else(|| corrupt_stored_data("a matched candidate has no cluster"))?;
                // An imported recommendation older than the answer was not
                // answered on arrival; it joins, and the answer reaches it
                // as a member. A live one is answered by whatever answer is
                // there when it is recorded.
                let answered_on_arrival = cluster.answer.as_ref().is_some_and(|answer| {
                    new.imported_by.is_none() || answer.answered_at <= new.submitted_at
                });
                let outcome = if cluster.cluster_status == ClusterStatus::Answered && answered_on_arrival {
                    DedupOutcome::AlreadyAnswered
                } else {
                    DedupOutcome::JoinedCluster
                };
                let matched = Suggestion {
                    recommendation_id: best.recommendation_id,
                    cluster_id: best.cluster_id,
                    score: best.score,
                };
                (Some(best.cluster_id), outcome, Some(matched), Vec::new())
            }
            Decision::Review(ranked) => (
                None,
                DedupOutcome::NeedsReview,
                None,
                ranked
                    .into_iter()
                    .map(|scored| Suggestion {
                        recommendation_id: scored.recommendation_id,
                        cluster_id: scored.cluster_id,
                        score: scored.score,
                    })
                    .collect(),
            ),
            Decision::New => (None, DedupOutcome::NewCluster, None, Vec::new()),
        };

        let cluster_id = match cluster_id {
            Some(existing) => existing,
            None => sqlx::query_scalar::<_, i64>(
                "INSERT INTO clusters (status, representative_id, topic, addressee, member_count, \
                   distinct_localities, distinct_blocs, first_seen, last_seen, updated_at) \
                 VALUES ($1, 0, $2, $3, 0, 0, 0, $4, $4, $5) RETURNING id",
            )
            .bind(ClusterStatus::Open.as_str())
            .bind(new.topic.as_deref())
            .bind(&new.addressee)
            .bind(submitted_at)
            .bind(received_at)
            .fetch_one(&mut *transaction)
            .await
            .or_database_failure("opening a cluster")?,
        };
        let analysis_json = serde_json::to_string(&new.analysis).map_err(Error::internal)?;
        let recommendation_id: i64 = sqlx::query_scalar(
            "INSERT INTO recommendations (organ_id, bloc, locality_code, text, topic, addressee, source, cluster_id, \
               outcome, matched_recommendation_id, matched_cluster_id, match_score, submitted_at, norm_version, \
               exact_key, analysis, imported_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
        )
        .bind(&new.organ_id)
        .bind(new.bloc.as_str())
        .bind(&new.locality_code)
        .bind(&new.text)
        .bind(new.topic.as_deref())
        .bind(&new.addressee)
        .bind(new.source.as_deref())
        .bind(cluster_id)
        .bind(outcome.as_str())
        .bind(matched.as_ref().map(|matched| matched.recommendation_id))
        .bind(matched.as_ref().map(|matched| matched.cluster_id))
        .bind(matched.as_ref().map_or(0.0, |matched| matched.score))
        .bind(submitted_at)
        .bind(i64::from(new.analysis.norm_version))
        .bind(to_storage_hash(new.analysis.exact_key))
        .bind(analysis_json)
        .bind(new.imported_by.as_deref())
        .fetch_one(&mut *transaction)
        .await
        .or_database_failure("recording a recommendation")?;

        count_new_member(&mut transaction, cluster_id, recommendation_id, new).await?;

        insert_band_keys(&mut transaction, self.backend, recommendation_id, &new.analysis).await?;
        insert_suggestions(&mut transaction, recommendation_id, &suggestions).await?;
        let counted_in: Vec<(&str, i64)> = new.analysis.terms.iter().map(|term| (term.as_str(), 1)).collect();
        change_document_frequencies(&mut transaction, self.backend, &counted_in).await?;
        sqlx::query("UPDATE dedup_corpus SET document_count = document_count + 1 WHERE id = 1")
            .execute(&mut *transaction)
            .await
            .or_database_failure("counting the corpus")?;
        // Last, with the resource known: decisions are serialised by the
        // lock, so nothing else in this transaction can conflict first, and
        // a retry that lost the race fails here and is replayed.
        record_idempotency_key(
            &mut transaction,
            key,
            &format!("recommendations/{recommendation_id}"),
            received_at,
        )
        .await?;
        commit(transaction).await?;

        // A new cluster is the recommendation's own, open and unanswered; a
        // joined one stands as its matched member's does.
        let own_cluster = match &matched {
            Some(matched) => standings
                .iter()
                .find(|standing| standing.recommendation_id == matched.recommendation_id)
                .map(|standing| (standing.cluster_status, standing.answer.clone())),
            None => None,
        };
        let (cluster_status, answer) = own_cluster.unwrap_or((ClusterStatus::Open, None));
        standings.push(RecommendationStanding {
            recommendation_id,
            text: new.text.clone(),
            cluster_id,
            cluster_status,
            answer,
        });
        // As a read would return it: the time at storage precision.
        let recommendation = Recommendation {
            id: recommendation_id,
            organ_id: new.organ_id.clone(),
            bloc: new.bloc,
            locality_code: new.locality_code.clone(),
            text: new.text.clone(),
            topic: new.topic.clone(),
            addressee: new.addressee.clone(),
            source: new.source.clone(),
            cluster_id,
            outcome,
            submitted_at: from_storage_micros(submitted_at)?,
            imported_by: new.imported_by.clone(),
            matched,
            pending_suggestions: suggestions,
        };
        Ok(RecordedRecommendation {
            recommendation,
            standings,
        })
    }

    async fn dedup_context(&self, analysis: &Analysis, limits: CandidateLimits) -> Result<DedupContext> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .or_database_failure("acquiring a connection")?;
        load_dedup_context(&mut connection, self.backend, analysis, limits).await
    }

    async fn get_recommendation(&self, id: i64) -> Result<Option<Recommendation>> {
        let mut query = NumberedQuery::new(RECOMMENDATION_SELECT);
        query.push_condition("id = {}", id)?;
        let (sql, arguments) = query.into_parts();
        let row = sqlx::query_as_with::<_, RecommendationRow, _>(sql, arguments)
            .fetch_optional(&self.pool)
            .await
            .or_database_failure("reading a recommendation")?;
        match row {
            Some(row) => Ok(self.recommendations_from(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list_recommendations(
        &self,
        organ_id: &str,
        cluster_status: Option<ClusterStatus>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Recommendation>> {
        let mut query = NumberedQuery::new(RECOMMENDATION_SELECT);
        query.push_condition("organ_id = {}", organ_id)?;
        if let Some(status) = cluster_status {
            query.push_condition(
                "cluster_id IN (SELECT id FROM clusters WHERE status = {})",
                status.as_str(),
            )?;
        }
        if let Some(before_id) = before_id {
            query.push_condition("id < {}", before_id)?;
        }
        query.push_order_and_limit("id DESC", limit);
        let (sql, arguments) = query.into_parts();
        let rows = sqlx::query_as_with::<_, RecommendationRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("listing recommendations")?;
        self.recommendations_from(rows).await
    }

    async fn get_cluster(&self, id: i64) -> Result<Option<Cluster>> {
        let mut query = NumberedQuery::new(CLUSTER_SELECT);
        query.push_condition("c.id = {}", id)?;
        let (sql, arguments) = query.into_parts();
        let row = sqlx::query_as_with::<_, ClusterRow, _>(sql, arguments)
            .fetch_optional(&self.pool)
            .await
            .or_database_failure("reading a cluster")?;
        match row {
            Some(row) => Ok(self.clusters_from(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn recommendation_standings(&self, ids: &[i64]) -> Result<Vec<RecommendationStanding>> {
        read_standings(&self.pool, ids).await
    }

    async fn cluster_members(&self, cluster_id: i64) -> Result<Vec<Recommendation>> {
        let mut query = NumberedQuery::new(RECOMMENDATION_SELECT);
        query.push_condition("cluster_id = {}", cluster_id)?;
        query.push_sql(" ORDER BY id");
        let (sql, arguments) = query.into_parts();
        let rows = sqlx::query_as_with::<_, RecommendationRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading cluster members")?;
        self.recommendations_from(rows).await
    }

    async fn cluster_decisions(&self, cluster_id: i64) -> Result<Vec<RecordedDecision>> {
        let rows: Vec<(String, Option<i64>, String, String, i64)> = sqlx::query_as(
            "SELECT action, recommendation_id, actor_organ, detail, decided_at FROM cluster_decisions \
             WHERE cluster_id = $1 ORDER BY id",
        )
        .bind(cluster_id)
        .fetch_all(&self.pool)
        .await
        .or_database_failure("reading a cluster's decisions")?;
        rows.into_iter()
            .map(|(action, recommendation_id, actor_organ, detail, decided_at)| {
                Ok(RecordedDecision {
                    decision: from_storage_name(&action, ClusterDecision::parse, "cluster decision")?,
                    recommendation_id,
                    actor_organ,
                    detail,
                    decided_at: from_storage_micros(decided_at)?,
                })
            })
            .collect()
    }

    async fn rank_clusters(&self, ranking: &ClusterRanking, limit: u32) -> Result<Vec<RankedCluster>> {
        let from = to_storage_micros(ranking.from)?;
        let until = to_storage_micros(ranking.until)?;
        let mut query = NumberedQuery::new(
            "SELECT r.cluster_id, COUNT(DISTINCT r.locality_code) AS localities, \
             COUNT(DISTINCT r.bloc) AS blocs, c.first_seen \
             FROM recommendations r JOIN clusters c ON c.id = r.cluster_id",
        );
        query.push_condition("r.submitted_at >= {}", from)?;
        query.push_condition("r.submitted_at < {}", until)?;
        if let Some(status) = ranking.status {
            query.push_condition("c.status = {}", status.as_str())?;
        }
        if !ranking.topics.is_empty() {
            query.push_condition_in("c.topic IN ({})", ranking.topics.iter().map(String::as_str))?;
        }
        if let Some(addressee) = &ranking.addressee {
            query.push_condition("c.addressee = {}", addressee.as_str())?;
        }
        query.push_sql(" GROUP BY r.cluster_id, c.first_seen");
        if ranking.min_distinct_localities > 0 {
            query
                .push_sql(" HAVING COUNT(DISTINCT r.locality_code) >= ")
                .push_bind(i64::from(ranking.min_distinct_localities))?;
        }
        query.push_order_and_limit(
            "localities DESC, blocs DESC, c.first_seen ASC, r.cluster_id ASC",
            limit,
        );
        let (sql, arguments) = query.into_parts();
        let ranked: Vec<(i64, i64, i64, i64)> = sqlx::query_as_with(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("ranking clusters")?;
        let mut clusters = Vec::with_capacity(ranked.len());
        for (cluster_id, _, _, _) in ranked {
            let cluster = self
                .get_cluster(cluster_id)
                .await?
                .ok_or_else(|| corrupt_stored_data(&format!("ranked cluster {cluster_id} vanished")))?;
            let members: Vec<(String, String)> = sqlx::query_as(
                "SELECT locality_code, bloc FROM recommendations \
                 WHERE cluster_id = $1 AND submitted_at >= $2 AND submitted_at < $3",
            )
            .bind(cluster_id)
            .bind(from)
            .bind(until)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("reading the members of a ranked cluster")?;
            let members_in_span = u32::try_from(members.len())
                .map_err(|_| corrupt_stored_data(&format!("cluster {cluster_id} has too many members")))?;
            let (localities_in_span, blocs_in_span) = distinct_localities_and_blocs(members)?;
            clusters.push(RankedCluster {
                cluster,
                members_in_span,
                localities_in_span,
                blocs_in_span,
            });
        }
        Ok(clusters)
    }

    async fn count_outcomes(&self, from: OffsetDateTime, until: OffsetDateTime) -> Result<Vec<OutcomeCount>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT bloc, outcome, COUNT(*) FROM recommendations \
             WHERE submitted_at >= $1 AND submitted_at < $2 GROUP BY bloc, outcome",
        )
        .bind(to_storage_micros(from)?)
        .bind(to_storage_micros(until)?)
        .fetch_all(&self.pool)
        .await
        .or_database_failure("counting dedup outcomes")?;
        rows.into_iter()
            .map(|(bloc, outcome, count)| {
                Ok(OutcomeCount {
                    bloc: from_storage_name(&bloc, Bloc::parse, "bloc")?,
                    outcome: from_storage_name(&outcome, DedupOutcome::parse, "outcome")?,
                    count: u64::try_from(count)
                        .map_err(|_| corrupt_stored_data(&format!("negative count {count}")))?,
                })
            })
            .collect()
    }

    async fn list_clusters(
        &self,
        filter: &ClusterFilter,
        after: Option<(OffsetDateTime, i64)>,
        limit: u32,
    ) -> Result<Vec<Cluster>> {
        let mut query = NumberedQuery::new(CLUSTER_SELECT);
        query.push_condition("c.member_count > {}", 0_i64)?;
        if let Some(status) = filter.status {
            query.push_condition("c.status = {}", status.as_str())?;
        }
        if let Some(topic) = &filter.topic {
            query.push_condition("c.topic = {}", topic.as_str())?;
        }
        if let Some(addressee) = &filter.addressee {
            query.push_condition("c.addressee = {}", addressee.as_str())?;
        }
        if filter.min_distinct_blocs > 0 {
            query.push_condition("c.distinct_blocs >= {}", i64::from(filter.min_distinct_blocs))?;
        }
        if filter.min_distinct_localities > 0 {
            query.push_condition(
                "c.distinct_localities >= {}",
                i64::from(filter.min_distinct_localities),
            )?;
        }
        if let Some((last_seen, id)) = after {
            let last_seen = to_storage_micros(last_seen)?;
            query.push_condition("(c.last_seen < {}", last_seen)?;
            query.push_sql(" OR (c.last_seen = ").push_bind(last_seen)?;
            query.push_sql(" AND c.id < ").push_bind(id)?.push_sql("))");
        }
        query.push_order_and_limit("c.last_seen DESC, c.id DESC", limit);
        let (sql, arguments) = query.into_parts();
        let rows = sqlx::query_as_with::<_, ClusterRow, _>(sql, arguments)
            .fetch_all(&self.pool)
            .await
            .or_database_failure("listing clusters")?;
        self.clusters_from(rows).await
    }

    async fn act_on_cluster(
        &self,
        cluster_id: i64,
        expected_status: ClusterStatus,
        action: &ClusterAction,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let at = to_storage_micros(at)?;
        // Under the same lock as merges and moves: a cluster cannot be
        // emptied while answered, and events commit in the order of their
        // ids, which is what lets a watch resume after the last one it saw.
        let mut transaction = self.begin_dedup_write().await?;
        record_idempotency_key(&mut transaction, key, &format!("clusters/{cluster_id}"), at).await?;
        let (decision, detail, updated) = match action {
            ClusterAction::Assign { department } => (
                ClusterDecision::Assign,
                department.clone(),
                sqlx::query(
                    "UPDATE clusters SET status = $1, assigned_department = $2, updated_at = $3 \
                     WHERE id = $4 AND status = $5 AND member_count > 0",
                )
                .bind(ClusterStatus::Assigned.as_str())
                .bind(department)
                .bind(at)
                .bind(cluster_id)
                .bind(expected_status.as_str())
                .execute(&mut *transaction)
                .await,
            ),
            ClusterAction::Answer(answer) => (
                ClusterDecision::Answer,
                format!("{}: {}", answer.document, answer.text),
                // Updated now, when the answer is recorded, even if it was
                // given earlier (an answer from a register).
                sqlx::query(
                    "UPDATE clusters SET status = $1, answer_text = $2, answer_organ = $3, answer_document = $4, \
                       answer_document_date = $5, answered_at = $6, updated_at = $7 \
                     WHERE id = $8 AND status = $9 AND member_count > 0",
                )
                .bind(ClusterStatus::Answered.as_str())
                .bind(&answer.text)
                .bind(&answer.answering_organ)
                .bind(&answer.document)
                .bind(answer.document_date.to_string())
                .bind(to_storage_micros(answer.answered_at)?)
                .bind(at)
                .bind(cluster_id)
                .bind(expected_status.as_str())
                .execute(&mut *transaction)
                .await,
            ),
            ClusterAction::Reopen { reason } => (
                ClusterDecision::Reopen,
                reason.clone(),
                // The old answer stays in the decision log; new members must
                // not be told the matter is settled.
                sqlx::query(
                    "UPDATE clusters SET status = $1, answer_text = NULL, answer_organ = NULL, \
                       answer_document = NULL, answer_document_date = NULL, answered_at = NULL, updated_at = $2 \
                     WHERE id = $3 AND status = $4 AND member_count > 0",
                )
                .bind(ClusterStatus::Reopened.as_str())
                .bind(at)
                .bind(cluster_id)
                .bind(expected_status.as_str())
                .execute(&mut *transaction)
                .await,
            ),
            ClusterAction::Escalate { proposal } => (
                ClusterDecision::Escalate,
                proposal.clone(),
                sqlx::query(
                    "UPDATE clusters SET status = $1, escalation_proposal = $2, updated_at = $3 \
                     WHERE id = $4 AND status = $5 AND member_count > 0",
                )
                .bind(ClusterStatus::EscalatedToCentral.as_str())
                .bind(proposal)
                .bind(at)
                .bind(cluster_id)
                .bind(expected_status.as_str())
                .execute(&mut *transaction)
                .await,
            ),
        };
        if updated.or_database_failure("updating a cluster")?.rows_affected() == 0 {
            return Err(concurrent_change(cluster_id));
        }
        record_decision(
            &mut transaction,
            cluster_id,
            None,
            decision,
            actor_organ,
            &detail,
            at,
        )
        .await?;
        commit(transaction).await
    }

    async fn resolve_review(
        &self,
        recommendation_id: i64,
        confirm: Option<i64>,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let at = to_storage_micros(at)?;
        let mut transaction = self.begin_dedup_write().await?;
        record_idempotency_key(
            &mut transaction,
            key,
            &format!("recommendations/{recommendation_id}"),
            at,
        )
        .await?;
        if let Some(target) = confirm {
            // The domain checked the suggestion before this transaction; a
            // merge since may have emptied that cluster (merges redirect
            // suggestions to their target), so check again under the lock.
            let still_suggested: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM recommendation_suggestions s JOIN clusters c ON c.id = s.suggested_cluster_id \
                 WHERE s.recommendation_id = $1 AND s.suggested_cluster_id = $2 AND c.member_count > 0",
            )
            .bind(recommendation_id)
            .bind(target)
            .fetch_one(&mut *transaction)
            .await
            .or_database_failure("checking a review suggestion")?;
            if still_suggested == 0 {
                return Err(Error::FailedPrecondition {
                    violation_type: "SUGGESTION_CHANGED",
                    subject: format!("clusters/{target}"),
                    description: "the suggested cluster changed meanwhile (merged or settled); read the \
                                  recommendation again"
                        .to_owned(),
                });
            }
        }
        let cleared = sqlx::query("DELETE FROM recommendation_suggestions WHERE recommendation_id = $1")
            .bind(recommendation_id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("clearing review suggestions")?;
        if cleared.rows_affected() == 0 {
            return Err(Error::FailedPrecondition {
                violation_type: "NO_PENDING_REVIEW",
                subject: format!("recommendations/{recommendation_id}"),
                description: "the review was settled meanwhile".to_owned(),
            });
        }
        let own_cluster: i64 = sqlx::query_scalar("SELECT cluster_id FROM recommendations WHERE id = $1")
            .bind(recommendation_id)
            .fetch_optional(&mut *transaction)
            .await
            .or_database_failure("reading a recommendation's cluster")?
            .ok_or_else(|| {
                Error::not_found(
                    ResourceKind::Recommendation,
                    format!("recommendations/{recommendation_id}"),
                )
            })?;
        match confirm {
            Some(target) if target != own_cluster => {
                keep_answers(&mut transaction, own_cluster, target).await?;
                sqlx::query("UPDATE recommendations SET cluster_id = $1 WHERE id = $2")
                    .bind(target)
                    .bind(recommendation_id)
                    .execute(&mut *transaction)
                    .await
                    .or_database_failure("moving a recommendation")?;
                // The provisional cluster keeps any later members; its
                // representative moves to the oldest of them.
                sqlx::query(
                    "UPDATE clusters SET representative_id = COALESCE(\
                       (SELECT MIN(id) FROM recommendations WHERE cluster_id = $1), representative_id) \
                     WHERE id = $1",
                )
                .bind(own_cluster)
                .execute(&mut *transaction)
                .await
                .or_database_failure("renaming a cluster's representative")?;
                refresh_cluster_counts(&mut transaction, own_cluster, at).await?;
                refresh_cluster_counts(&mut transaction, target, at).await?;
                record_decision(
                    &mut transaction,
                    target,
                    Some(recommendation_id),
                    ClusterDecision::ConfirmDuplicate,
                    actor_organ,
                    &format!("moved from clusters/{own_cluster}"),
                    at,
                )
                .await?;
            }
            _ => {
                record_decision(
                    &mut transaction,
                    own_cluster,
                    Some(recommendation_id),
                    ClusterDecision::KeepSeparate,
                    actor_organ,
                    "",
                    at,
                )
                .await?;
            }
        }
        commit(transaction).await
    }

    async fn merge_clusters(
        &self,
        target: ClusterExpectation,
        source: ClusterExpectation,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<()> {
        let at = to_storage_micros(at)?;
        let mut transaction = self.begin_dedup_write().await?;
        record_idempotency_key(
            &mut transaction,
            key,
            &format!("clusters/{}", target.cluster_id),
            at,
        )
        .await?;
        claim_cluster(&mut transaction, target, at).await?;
        claim_cluster(&mut transaction, source, at).await?;
        keep_answers(&mut transaction, source.cluster_id, target.cluster_id).await?;
        let moved = sqlx::query("UPDATE recommendations SET cluster_id = $1 WHERE cluster_id = $2")
            .bind(target.cluster_id)
            .bind(source.cluster_id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("moving a cluster's members")?
            .rows_affected();
        // Reviews still pending that offered the source now offer the target.
        sqlx::query(
            "UPDATE recommendation_suggestions SET suggested_cluster_id = $1 WHERE suggested_cluster_id = $2",
        )
        .bind(target.cluster_id)
        .bind(source.cluster_id)
        .execute(&mut *transaction)
        .await
        .or_database_failure("redirecting review suggestions")?;
        refresh_cluster_counts(&mut transaction, source.cluster_id, at).await?;
        refresh_cluster_counts(&mut transaction, target.cluster_id, at).await?;
        record_decision(
            &mut transaction,
            target.cluster_id,
            None,
            ClusterDecision::Merge,
            actor_organ,
            &format!("{moved} members from clusters/{}", source.cluster_id),
            at,
        )
        .await?;
        record_decision(
            &mut transaction,
            source.cluster_id,
            None,
            ClusterDecision::MergedInto,
            actor_organ,
            &format!("clusters/{}", target.cluster_id),
            at,
        )
        .await?;
        commit(transaction).await
    }

    async fn move_recommendation(
        &self,
        recommendation_id: i64,
        source: ClusterExpectation,
        target: Option<ClusterExpectation>,
        actor_organ: &str,
        at: OffsetDateTime,
        key: &IdempotencyKey,
    ) -> Result<i64> {
        let at = to_storage_micros(at)?;
        let mut transaction = self.begin_dedup_write().await?;
        record_idempotency_key(
            &mut transaction,
            key,
            &format!("recommendations/{recommendation_id}"),
            at,
        )
        .await?;
        claim_cluster(&mut transaction, source, at).await?;
        let (topic, addressee, in_cluster): (Option<String>, String, i64) =
            sqlx::query_as("SELECT topic, addressee, cluster_id FROM recommendations WHERE id = $1")
                .bind(recommendation_id)
                .fetch_optional(&mut *transaction)
                .await
                .or_database_failure("reading a recommendation")?
                .ok_or_else(|| {
                    Error::not_found(
                        ResourceKind::Recommendation,
                        format!("recommendations/{recommendation_id}"),
                    )
                })?;
        if in_cluster != source.cluster_id {
            return Err(concurrent_change(source.cluster_id));
        }
        let target_id = match target {
            Some(target) => {
                claim_cluster(&mut transaction, target, at).await?;
                target.cluster_id
            }
            None => sqlx::query_scalar::<_, i64>(
                "INSERT INTO clusters (status, representative_id, topic, addressee, member_count, \
                   distinct_localities, distinct_blocs, first_seen, last_seen, updated_at) \
                 VALUES ($1, $2, $3, $4, 0, 0, 0, $5, $5, $5) RETURNING id",
            )
            .bind(ClusterStatus::Open.as_str())
            .bind(recommendation_id)
            .bind(topic.as_deref())
            .bind(&addressee)
            .bind(at)
            .fetch_one(&mut *transaction)
            .await
            .or_database_failure("opening a cluster")?,
        };
        sqlx::query("UPDATE recommendations SET cluster_id = $1 WHERE id = $2")
            .bind(target_id)
            .bind(recommendation_id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("moving a recommendation")?;
        sqlx::query("DELETE FROM recommendation_suggestions WHERE recommendation_id = $1")
            .bind(recommendation_id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("clearing review suggestions")?;
        renew_representative(&mut transaction, source.cluster_id).await?;
        refresh_cluster_counts(&mut transaction, source.cluster_id, at).await?;
        refresh_cluster_counts(&mut transaction, target_id, at).await?;
        record_decision(
            &mut transaction,
            source.cluster_id,
            Some(recommendation_id),
            ClusterDecision::MoveOut,
            actor_organ,
            &format!("to clusters/{target_id}"),
            at,
        )
        .await?;
        record_decision(
            &mut transaction,
            target_id,
            Some(recommendation_id),
            ClusterDecision::MoveIn,
            actor_organ,
            &format!("from clusters/{}", source.cluster_id),
            at,
        )
        .await?;
        commit(transaction).await?;
        Ok(target_id)
    }
}

impl SqlStore {
    /// Indexes again, under the keys each has, the next recommendations of
    /// `norm_version` after id `after`, at most [`REINDEX_BATCH`], in one
    /// transaction. Returns the last id done, or `None` when none was left.
    async fn reindex_band_keys(
        &self,
        norm_version: u32,
        analyze: AnalyzeFn<'_>,
        after: i64,
    ) -> Result<Option<i64>> {
        let mut transaction = self.begin_dedup_write().await?;
        let current: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, text FROM recommendations WHERE norm_version = $1 AND id > $2 \
             ORDER BY id LIMIT {REINDEX_BATCH}"
        )))
        .bind(i64::from(norm_version))
        .bind(after)
        .fetch_all(&mut *transaction)
        .await
        .or_database_failure("finding recommendations to index again")?;
        let Some(&(last, _)) = current.last() else {
            return Ok(None);
        };
        for (id, text) in &current {
            insert_band_keys(&mut transaction, self.backend, *id, &analyze(text)).await?;
        }
        commit(transaction).await?;
        Ok(Some(last))
    }

    /// Re-analyses the next stale recommendations after id `after`, at most
    /// [`REINDEX_BATCH`], in one transaction: their analyses, band keys and
    /// the document frequencies they change (each old term counted out,
    /// each new one in). Returns the last id done, or `None` when none was
    /// left.
    async fn reindex_batch(
        &self,
        norm_version: u32,
        analyze: AnalyzeFn<'_>,
        after: i64,
    ) -> Result<Option<(i64, u64)>> {
        let mut transaction = self.begin_dedup_write().await?;
        let stale: Vec<(i64, String, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, text, analysis FROM recommendations WHERE norm_version <> $1 AND id > $2 \
             ORDER BY id LIMIT {REINDEX_BATCH}"
        )))
        .bind(i64::from(norm_version))
        .bind(after)
        .fetch_all(&mut *transaction)
        .await
        .or_database_failure("finding recommendations to re-analyse")?;
        let Some(&(last, _, _)) = stale.last() else {
            return Ok(None);
        };
        let mut frequency_changes: HashMap<String, i64> = HashMap::new();
        for (id, text, stored) in &stale {
            for term in parse_analysis(stored)?.terms {
                *frequency_changes.entry(term).or_insert(0) -= 1;
            }
            let analysis = analyze(text);
            for term in &analysis.terms {
                *frequency_changes.entry(term.clone()).or_insert(0) += 1;
            }
            let analysis_json = serde_json::to_string(&analysis).map_err(Error::internal)?;
            sqlx::query(
                "UPDATE recommendations SET norm_version = $1, exact_key = $2, analysis = $3 WHERE id = $4",
            )
            .bind(i64::from(analysis.norm_version))
            .bind(to_storage_hash(analysis.exact_key))
            .bind(analysis_json)
            .bind(*id)
            .execute(&mut *transaction)
            .await
            .or_database_failure("storing a new analysis")?;
            sqlx::query("DELETE FROM recommendation_bands WHERE recommendation_id = $1")
                .bind(*id)
                .execute(&mut *transaction)
                .await
                .or_database_failure("clearing old band keys")?;
            insert_band_keys(&mut transaction, self.backend, *id, &analysis).await?;
        }
        let changes: Vec<(&str, i64)> = frequency_changes
            .iter()
            .filter(|(_, change)| **change != 0)
            .map(|(term, change)| (term.as_str(), *change))
            .collect();
        change_document_frequencies(&mut transaction, self.backend, &changes).await?;
        // Only terms this batch counted out can have dropped to nothing; the
        // primary key finds them, where a filter on the count would scan
        // every term under the lock.
        let counted_out: Vec<&str> = changes
            .iter()
            .filter(|(_, change)| *change < 0)
            .map(|(term, _)| *term)
            .collect();
        for chunk in counted_out.chunks(500) {
            let mut query = NumberedQuery::new("DELETE FROM dedup_terms");
            query.push_condition("document_count <= {}", 0_i64)?;
            query.push_condition_in("term IN ({})", chunk.iter().copied())?;
            let (sql, arguments) = query.into_parts();
            sqlx::query_with(sql, arguments)
                .execute(&mut *transaction)
                .await
                .or_database_failure("dropping terms no analysis has")?;
        }
        commit(transaction).await?;
        Ok(Some((last, u64::try_from(stale.len()).unwrap_or(u64::MAX))))
    }
}
