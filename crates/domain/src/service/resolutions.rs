//! The resolution register: filing a resolution, the legality review by the
//! province's Department of Justice, and reading and searching the register.
//!
//! Who may do what: a SUBMITTER files the resolutions of its own organ, which
//! must be a People's Council or a Party committee; a REVIEWER of the
//! reviewing department decides on them; every authenticated caller reads
//! them, because resolutions are public acts that are published anyway.

use std::sync::Arc;

use serde::Serialize;

use super::{Clock, earlier_request, idempotency_key, is_key_race};
use crate::auth::Principal;
use crate::directory::Organ;
use crate::error::{Error, ResourceKind, Result, Violations};
use crate::paging::{Page, PageRequest};
use crate::period::vietnam_date;
use crate::resolution::{
    ISSUING_ORGAN_KINDS, MAX_REVIEW_COMMENT_CHARS, NewResolution, NewResolutionReview, Resolution,
    ResolutionDraft, ResolutionFilter, ResolutionReview, ResolutionStatus, ResolutionVerdict,
    already_superseded, check_draft, check_optional_date, is_topic_code, parse_iso_date,
    parse_resolution_name, resolution_name, reviewing_department, search_terms,
};
use crate::store::{IdempotencyKey, Store};
use crate::text::check_free_text;

/// A request to file a resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileResolution {
    /// The issuing organ.
    pub organ_id: String,
    pub draft: ResolutionDraft,
    /// The resolution this one replaces.
    pub supersedes: Option<i64>,
    #[serde(skip)]
    pub request_id: String,
}

/// What a review decides, as fingerprinted for its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ReviewContent {
    resolution_id: i64,
    verdict: ResolutionVerdict,
    comment: String,
}

/// A list request as the caller sent it; [`ResolutionService::list`]
/// checks it into a [`ResolutionFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolutionSearch {
    pub issuing_organ_id: Option<String>,
    pub locality_code: Option<String>,
    pub topic: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub adopted_from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub adopted_to: Option<String>,
    pub status: Option<ResolutionStatus>,
    /// Words that must all occur in the title or summary.
    pub query: String,
}

/// How much of each resolution a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolutionView {
    /// Without the full text.
    #[default]
    Basic,
    Full,
}

#[derive(Clone)]
pub struct ResolutionService {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl std::fmt::Debug for ResolutionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolutionService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ResolutionService {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Files a resolution of the caller's own organ, in PENDING_REVIEW, and
    /// returns it with its full text.
    pub async fn file(&self, caller: &Principal, request: FileResolution) -> Result<(Resolution, String)> {
        if !caller.submits_for(&request.organ_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not file resolutions for organ {}",
                caller.describe(),
                request.organ_id
            )));
        }
        let key = idempotency_key(&request.organ_id, "FileResolution", &request.request_id, &request)?;
        if let Some(resource) = earlier_request(self.store.as_ref(), &key).await? {
            return self.replay_filing(&resource).await;
        }

        let organ = self.organ(&request.organ_id).await?;
        let superseded = match request.supersedes {
            Some(id) => Some(self.resolution(id).await?),
            None => None,
        };
        let now = (self.clock)();
        let mut violations = Violations::new();
        // The kind of an organ never changes, so this is a bad argument, not
        // a state that a retry could find changed; the same check on a
        // report's organ is a field violation too.
        if !ISSUING_ORGAN_KINDS.contains(&organ.kind) {
            violations.add(
                "organ",
                format!(
                    "{} is a {} organ; only People's Councils and Party committees adopt resolutions",
                    organ.id,
                    organ.kind.as_str()
                ),
            );
        }
        let checked = match check_draft(&request.draft, vietnam_date(now)) {
            Ok(checked) => Some(checked),
            Err(draft_violations) => {
                violations.extend(draft_violations);
                None
            }
        };
        if let Some(superseded) = &superseded {
            check_supersedable(superseded, &organ, &request.draft, &mut violations);
        }
        violations.into_result()?;
        let Some(content) = checked else {
            return Err(Error::internal(
                "a draft without violations must have been checked",
            ));
        };
        if let Some(superseded) = &superseded
            && let Some(successor) = superseded.superseded_by
        {
            return Err(already_superseded(superseded.id, successor));
        }

        let new_resolution = NewResolution {
            issuing_organ_id: organ.id.clone(),
            locality_code: organ.locality_code.clone(),
            content,
            supersedes: request.supersedes,
            filed_at: now,
            filed_by_token: caller.token_id,
        };
        match self.store.insert_resolution(&new_resolution, &key).await {
            Ok(resolution_id) => {
                tracing::info!(
                    resolution_id,
                    organ = %organ.id,
                    symbol = new_resolution.content.symbol.as_str(),
                    "resolution filed"
                );
                self.with_full_text(resolution_id).await
            }
            Err(error) if is_key_race(&error) => self.replay_after_race(&key).await,
            Err(error) => Err(error),
        }
    }

    /// Records the reviewing department's decision on a resolution and
    /// returns the resolution as it stands after it.
    pub async fn review(
        &self,
        caller: &Principal,
        resolution_id: i64,
        verdict: Option<ResolutionVerdict>,
        comment: String,
        request_id: &str,
    ) -> Result<Resolution> {
        let resolution = self.resolution(resolution_id).await?;
        let locality = self
            .store
            .get_locality(&resolution.locality_code)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Locality, &resolution.locality_code))?;
        let reviewer = reviewing_department(&locality);
        if !caller.reviews_for(&reviewer) {
            return Err(Error::PermissionDenied(format!(
                "{} may not review {}; {reviewer} reviews the resolutions of locality {}",
                caller.describe(),
                resolution_name(resolution_id),
                locality.code
            )));
        }
        let mut violations = Violations::new();
        match verdict {
            None => violations.add("verdict", "LAWFUL, NEEDS_AMENDMENT or ANNULLED"),
            Some(verdict) if verdict.needs_comment() && comment.trim().is_empty() => violations.add(
                "comment",
                format!(
                    "say why the resolution is {}; the issuing organ acts on it",
                    verdict.as_str()
                ),
            ),
            Some(_) => {}
        }
        check_free_text("comment", &comment, MAX_REVIEW_COMMENT_CHARS, &mut violations);
        violations.into_result()?;
        let Some(verdict) = verdict else {
            return Err(Error::internal("a verdict without violations must be set"));
        };
        let content = ReviewContent {
            resolution_id,
            verdict,
            comment,
        };
        let key = idempotency_key(&caller.organ.id, "ReviewResolution", request_id, &content)?;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.resolution(resolution_id).await;
        }
        if !resolution.status.allows(verdict) {
            return Err(Error::FailedPrecondition {
                violation_type: "RESOLUTION_STATUS",
                subject: resolution_name(resolution_id),
                description: describe_refused_transition(resolution.status, verdict),
            });
        }
        let sequence = u32::try_from(resolution.reviews.len() + 1)
            .map_err(|_| Error::internal("a resolution has more reviews than can be numbered"))?;
        let review = NewResolutionReview {
            resolution_id,
            expected_status: resolution.status,
            review: ResolutionReview {
                sequence,
                verdict,
                comment: content.comment,
                reviewer_organ: caller.organ.id.clone(),
                reviewed_by_token: caller.token_id,
                reviewed_at: (self.clock)(),
            },
        };
        match self.store.record_resolution_review(&review, &key).await {
            Ok(())
            | Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }) => {
                tracing::info!(resolution_id, verdict = verdict.as_str(), "resolution reviewed");
                self.resolution(resolution_id).await
            }
            Err(error) => Err(error),
        }
    }

    /// A resolution with its full text. Every authenticated caller may read
    /// it: resolutions are public acts.
    pub async fn get(&self, _caller: &Principal, resolution_id: i64) -> Result<(Resolution, String)> {
        self.with_full_text(resolution_id).await
    }

    /// Resolutions in filing order, filtered; readable by every caller.
    pub async fn list(
        &self,
        _caller: &Principal,
        search: ResolutionSearch,
        view: ResolutionView,
        page: &PageRequest,
    ) -> Result<Page<(Resolution, Option<String>)>> {
        let filter = check_search(search)?;
        let fetched = self
            .store
            .list_resolutions(&filter, page.after_id()?, page.fetch_limit())
            .await?;
        let page = Page::from_fetched(fetched, page, |resolution| resolution.id.to_string());
        let mut items = Vec::with_capacity(page.items.len());
        for resolution in page.items {
            let full_text = match view {
                ResolutionView::Basic => None,
                ResolutionView::Full => Some(self.full_text(resolution.id).await?),
            };
            items.push((resolution, full_text));
        }
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    async fn replay_filing(&self, resource: &str) -> Result<(Resolution, String)> {
        let resolution_id = parse_resolution_name(resource).ok_or_else(|| {
            Error::internal(format!("stored resource {resource:?} is not a resolution name"))
        })?;
        self.with_full_text(resolution_id).await
    }

    async fn replay_after_race(&self, key: &IdempotencyKey) -> Result<(Resolution, String)> {
        match earlier_request(self.store.as_ref(), key).await? {
            Some(resource) => self.replay_filing(&resource).await,
            None => Err(Error::internal("idempotency key conflict without a stored key")),
        }
    }

    async fn with_full_text(&self, resolution_id: i64) -> Result<(Resolution, String)> {
        let resolution = self.resolution(resolution_id).await?;
        let full_text = self.full_text(resolution_id).await?;
        Ok((resolution, full_text))
    }

    async fn organ(&self, id: &str) -> Result<Organ> {
        self.store
            .get_organ(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Organ, id))
    }

    async fn resolution(&self, id: i64) -> Result<Resolution> {
        self.store
            .get_resolution(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Resolution, resolution_name(id)))
    }

    async fn full_text(&self, id: i64) -> Result<String> {
        self.store
            .get_resolution_full_text(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Resolution, resolution_name(id)))
    }
}

/// A resolution may replace only one of its own organ's, adopted no later
/// than itself.
fn check_supersedable(
    superseded: &Resolution,
    organ: &Organ,
    draft: &ResolutionDraft,
    violations: &mut Violations,
) {
    if superseded.issuing_organ_id != organ.id {
        violations.add(
            "supersedes",
            format!(
                "{} was issued by {}; a resolution replaces only one of its own organ",
                resolution_name(superseded.id),
                superseded.issuing_organ_id
            ),
        );
    }
    if let Ok(adopted_on) = parse_iso_date(&draft.adoption_date)
        && superseded.adopted_on > adopted_on
    {
        violations.add(
            "supersedes",
            format!(
                "{} was adopted on {}, after this one; a resolution replaces only an earlier one",
                resolution_name(superseded.id),
                superseded.adopted_on
            ),
        );
    }
}

fn describe_refused_transition(status: ResolutionStatus, verdict: ResolutionVerdict) -> String {
    let allowed: Vec<&str> = status
        .allowed_verdicts()
        .iter()
        .map(|verdict| verdict.as_str())
        .collect();
    if allowed.is_empty() {
        format!(
            "the resolution is {}, which is final; it cannot become {}",
            status.as_str(),
            verdict.as_str()
        )
    } else {
        format!(
            "a {} resolution can become {}, not {}",
            status.as_str(),
            allowed.join(" or "),
            verdict.as_str()
        )
    }
}

/// Checks a list request, collecting every violation.
fn check_search(search: ResolutionSearch) -> Result<ResolutionFilter> {
    let mut violations = Violations::new();
    let adopted_from = check_optional_date("adopted_from", search.adopted_from.as_deref(), &mut violations);
    let adopted_to = check_optional_date("adopted_to", search.adopted_to.as_deref(), &mut violations);
    if let (Some(from), Some(to)) = (adopted_from, adopted_to)
        && from > to
    {
        violations.add("adopted_to", format!("{to} is before adopted_from {from}"));
    }
    if let Some(topic) = &search.topic
        && !is_topic_code(topic)
    {
        violations.add("topic", format!("{topic:?} is not a topic code"));
    }
    let terms = search_terms(&search.query)
        .map_err(|reason| violations.add("query", reason))
        .unwrap_or_default();
    violations.into_result()?;
    Ok(ResolutionFilter {
        issuing_organ_id: search.issuing_organ_id,
        locality_code: search.locality_code,
        topic: search.topic,
        adopted_from,
        adopted_to,
        status: search.status,
        terms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_transitions_say_what_is_allowed() {
        assert_eq!(
            describe_refused_transition(ResolutionStatus::Lawful, ResolutionVerdict::NeedsAmendment),
            "a LAWFUL resolution can become ANNULLED, not NEEDS_AMENDMENT"
        );
        assert!(
            describe_refused_transition(ResolutionStatus::Annulled, ResolutionVerdict::Lawful)
                .contains("final")
        );
    }

    #[test]
    fn a_search_reports_every_bad_field() {
        let error = check_search(ResolutionSearch {
            adopted_from: Some("2025-10-01".to_owned()),
            adopted_to: Some("2025-09-01".to_owned()),
            topic: Some("Ngân sách".to_owned()),
            query: "x".repeat(500),
            ..ResolutionSearch::default()
        })
        .expect_err("invalid");
        let Error::InvalidArgument(violations) = error else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["adopted_to", "topic", "query"]);
        let bad_date = check_search(ResolutionSearch {
            adopted_from: Some("2025-13-01".to_owned()),
            ..ResolutionSearch::default()
        });
        assert!(matches!(bad_date, Err(Error::InvalidArgument(_))));
    }
}
