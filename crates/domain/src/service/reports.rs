//! Submitting, amending, reviewing and reading reports; what an organ owes;
//! completeness of a form and period.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Clock, earlier_request, idempotency_key, is_key_race};
use crate::auth::Principal;
use crate::directory::Organ;
use crate::error::{Error, ResourceKind, Result, Violations};
use crate::form::{FormDefinition, FormVersion};
use crate::paging::{Page, PageRequest};
use crate::period::{DateWindow, Period, Periodicity, vietnam_date};
use crate::report::{
    MAX_NARRATIVE_CHARS, Report, ReportRevision, ReportStatus, Review, ReviewDecision, ValueInput,
    validate_values,
};
use crate::store::{NewReport, NewReview, ReportFilter, Store};
use crate::text::check_free_text;

/// A request to submit the first revision of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmitReport {
    pub organ_id: String,
    pub form_code: String,
    /// 0 means the latest published version.
    pub form_version: u32,
    pub period: String,
    pub values: Vec<ValueInput>,
    pub narrative: String,
    #[serde(skip)]
    pub request_id: String,
}

/// A request to add a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmendReport {
    pub report_id: i64,
    /// 0 means "do not check".
    pub base_revision: u32,
    /// 0 means the version of the latest revision.
    pub form_version: u32,
    pub values: Vec<ValueInput>,
    pub narrative: String,
    pub reason: String,
    #[serde(skip)]
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ReviewContent {
    report_id: i64,
    revision: u32,
    decision: ReviewDecision,
    comment: String,
}

/// A revision as recorded, with the deadline it was measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedRevision {
    pub report_id: i64,
    pub revision: ReportRevision,
    pub deadline: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportView {
    #[default]
    Basic,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObligationStatus {
    NotSubmitted,
    Overdue,
    Submitted,
    Returned,
    Accepted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    pub form_code: String,
    pub form_title: String,
    pub period: Period,
    pub cutoff: DateWindow,
    pub deadline: OffsetDateTime,
    pub status: ObligationStatus,
    pub late: bool,
    pub report_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObligationsQuery {
    pub organ_id: String,
    pub form_code: Option<String>,
    pub status: Option<ObligationStatus>,
    pub as_of: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    pub form_code: String,
    pub period: Period,
    pub deadline: OffsetDateTime,
    pub expected: u32,
    pub submitted: u32,
    pub on_time: u32,
    pub late: u32,
    pub accepted: u32,
    pub returned: u32,
    pub missing: Vec<Organ>,
}

/// No organ owes more periods of one form than this; it bounds the work of
/// listing obligations for a form whose first period lies far back.
const MAX_PERIODS_PER_FORM: usize = 2_000;

#[derive(Clone)]
pub struct ReportService {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl std::fmt::Debug for ReportService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ReportService {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    pub async fn submit(&self, caller: &Principal, request: SubmitReport) -> Result<SubmittedRevision> {
        if !caller.submits_for(&request.organ_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not submit reports for organ {}",
                caller.describe(),
                request.organ_id
            )));
        }
        let key = idempotency_key(&request.organ_id, "SubmitReport", &request.request_id, &request)?;
        if let Some(resource) = earlier_request(self.store.as_ref(), &key).await? {
            return self.replay_revision(&resource).await;
        }

        let organ = self.organ(&request.organ_id).await?;
        let version = self
            .form_version(&request.form_code, request.form_version)
            .await?;
        let definition = &version.definition;
        let now = (self.clock)();

        let mut violations = Violations::new();
        let period = check_period(definition, &request.period, now, &mut violations);
        if !definition.is_owed_by(organ.kind) {
            violations.add(
                "organ",
                format!(
                    "form {} is not reported by {} organs",
                    request.form_code,
                    organ.kind.as_str()
                ),
            );
        }
        check_narrative(&request.narrative, &mut violations);
        let values = match validate_values(definition, &request.values) {
            Ok(values) => values,
            Err(value_violations) => {
                violations.extend(value_violations);
                Vec::new()
            }
        };
        violations.into_result()?;
        let Some(period) = period else {
            return Err(Error::internal("a period without violations must have parsed"));
        };

        let deadline = period.deadline(definition.window_rule, definition.deadline_days_after_cutoff);
        let late = now > deadline;
        let new_report = NewReport {
            organ_id: organ.id.clone(),
            locality_code: organ.locality_code.clone(),
            form_code: version.form_code.clone(),
            period,
            deadline,
            first_revision: ReportRevision {
                report_id: 0,
                revision: 1,
                form_version: version.version,
                values,
                narrative: request.narrative,
                amendment_reason: String::new(),
                submitted_at: now,
                late,
                submitted_by_token: caller.token_id,
            },
        };
        match self.store.insert_report(&new_report, &key).await {
            Ok(report_id) => {
                tracing::info!(report_id, organ = %organ.id, form = %version.form_code, %period, late, "report submitted");
                let mut revision = new_report.first_revision;
                revision.report_id = report_id;
                Ok(SubmittedRevision {
                    report_id,
                    revision,
                    deadline,
                })
            }
            Err(error) if is_key_race(&error) => self.replay_after_race(&key).await,
            Err(error) => Err(error),
        }
    }

    pub async fn amend(&self, caller: &Principal, request: AmendReport) -> Result<SubmittedRevision> {
        let report = self.report(request.report_id).await?;
        if !caller.submits_for(&report.organ_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not amend reports of organ {}",
                caller.describe(),
                report.organ_id
            )));
        }
        let key = idempotency_key(&report.organ_id, "AmendReport", &request.request_id, &request)?;
        if let Some(resource) = earlier_request(self.store.as_ref(), &key).await? {
            return self.replay_revision(&resource).await;
        }
        if !report.status.allows_amendment() {
            return Err(Error::FailedPrecondition {
                violation_type: "REPORT_STATUS",
                subject: report_name(report.id),
                description: format!("an {} report cannot be amended", report.status.as_str()),
            });
        }
        if request.base_revision != 0 && request.base_revision != report.latest_revision {
            return Err(stale_revision(&report, request.base_revision));
        }
        let latest = self.revision(report.id, report.latest_revision).await?;
        let form_version = match request.form_version {
            0 => latest.form_version,
            chosen => chosen,
        };
        let version = self.form_version(&report.form_code, form_version).await?;

        let mut violations = Violations::new();
        if request.reason.trim().is_empty() {
            violations.add("reason", "say why the report is amended");
        }
        check_free_text("reason", &request.reason, 2_000, &mut violations);
        check_narrative(&request.narrative, &mut violations);
        let values = match validate_values(&version.definition, &request.values) {
            Ok(values) => values,
            Err(value_violations) => {
                violations.extend(value_violations);
                Vec::new()
            }
        };
        violations.into_result()?;

        let now = (self.clock)();
        let revision = ReportRevision {
            report_id: report.id,
            revision: report.latest_revision + 1,
            form_version: version.version,
            values,
            narrative: request.narrative,
            amendment_reason: request.reason,
            submitted_at: now,
            late: now > report.deadline,
            submitted_by_token: caller.token_id,
        };
        match self.store.append_revision(&revision, report.status, &key).await {
            Ok(()) => {
                tracing::info!(
                    report_id = report.id,
                    revision = revision.revision,
                    "report amended"
                );
                Ok(SubmittedRevision {
                    report_id: report.id,
                    revision,
                    deadline: report.deadline,
                })
            }
            Err(error) if is_key_race(&error) => self.replay_after_race(&key).await,
            Err(error) => Err(error),
        }
    }

    pub async fn review(
        &self,
        caller: &Principal,
        report_id: i64,
        revision: u32,
        decision: Option<ReviewDecision>,
        comment: String,
        request_id: &str,
    ) -> Result<Report> {
        let report = self.report(report_id).await?;
        let owner = self.form_owner(&report.form_code).await?;
        if !caller.reviews_for(&owner) {
            return Err(Error::PermissionDenied(format!(
                "{} may not review reports of form {}, which {owner} reviews",
                caller.describe(),
                report.form_code
            )));
        }
        let mut violations = Violations::new();
        if revision == 0 {
            violations.add("revision", "name the revision reviewed");
        }
        match decision {
            None => violations.add("decision", "ACCEPT or RETURN"),
            Some(ReviewDecision::Return) if comment.trim().is_empty() => {
                violations.add("comment", "say why the report is returned");
            }
            Some(_) => {}
        }
        check_free_text("comment", &comment, 4_000, &mut violations);
        violations.into_result()?;
        let Some(decision) = decision else {
            return Err(Error::internal("a decision without violations must be set"));
        };
        let content = ReviewContent {
            report_id,
            revision,
            decision,
            comment,
        };
        let key = idempotency_key(&caller.organ.id, "ReviewReport", request_id, &content)?;
        if earlier_request(self.store.as_ref(), &key).await?.is_some() {
            return self.report(report_id).await;
        }
        if report.status != ReportStatus::Submitted {
            return Err(Error::FailedPrecondition {
                violation_type: "REPORT_STATUS",
                subject: report_name(report.id),
                description: format!(
                    "only a SUBMITTED report can be reviewed; this one is {}",
                    report.status.as_str()
                ),
            });
        }
        if revision != report.latest_revision {
            return Err(stale_revision(&report, revision));
        }
        let new_status = match decision {
            ReviewDecision::Accept => ReportStatus::Accepted,
            ReviewDecision::Return => ReportStatus::Returned,
        };
        let review = NewReview {
            report_id,
            expected_revision: revision,
            expected_status: report.status,
            new_status,
            review: Review {
                reviewer_organ: caller.organ.id.clone(),
                comment: content.comment,
                reviewed_at: (self.clock)(),
            },
        };
        match self.store.record_review(&review, &key).await {
            Ok(())
            | Err(Error::AlreadyExists {
                kind: ResourceKind::IdempotencyKey,
                ..
            }) => {
                tracing::info!(report_id, status = new_status.as_str(), "report reviewed");
                self.report(report_id).await
            }
            Err(error) => Err(error),
        }
    }

    /// A report with the given revision (the latest when `None`).
    pub async fn get(
        &self,
        caller: &Principal,
        report_id: i64,
        revision: Option<u32>,
    ) -> Result<(Report, ReportRevision)> {
        let report = self.report(report_id).await?;
        self.check_may_read(caller, &report).await?;
        let revision = self
            .revision(report_id, revision.unwrap_or(report.latest_revision))
            .await?;
        Ok((report, revision))
    }

    pub async fn list(
        &self,
        caller: &Principal,
        mut filter: ReportFilter,
        view: ReportView,
        page: &PageRequest,
    ) -> Result<Page<(Report, Option<ReportRevision>)>> {
        if caller.reads_everything() {
            // Everything is visible.
        } else if caller.has(crate::auth::Role::Reviewer) {
            filter.form_owner = Some(caller.organ.id.clone());
        } else {
            match &filter.organ_id {
                Some(organ) if !caller.submits_for(organ) => {
                    return Err(Error::PermissionDenied(format!(
                        "{} may list only its own organ's reports",
                        caller.describe()
                    )));
                }
                _ if !caller.has(crate::auth::Role::Submitter) => {
                    return Err(Error::PermissionDenied(format!(
                        "{} may not list reports",
                        caller.describe()
                    )));
                }
                _ => filter.organ_id = Some(caller.organ.id.clone()),
            }
        }
        let fetched = self
            .store
            .list_reports(&filter, page.after_id()?, page.fetch_limit())
            .await?;
        let page = Page::from_fetched(fetched, page, |report| report.id.to_string());
        let mut items = Vec::with_capacity(page.items.len());
        for report in page.items {
            let revision = match view {
                ReportView::Basic => None,
                ReportView::Full => Some(self.revision(report.id, report.latest_revision).await?),
            };
            items.push((report, revision));
        }
        Ok(Page {
            items,
            next_page_token: page.next_page_token,
        })
    }

    /// What an organ owes, latest deadline first.
    pub async fn obligations(
        &self,
        caller: &Principal,
        query: &ObligationsQuery,
        page: &PageRequest,
    ) -> Result<Page<Obligation>> {
        let may_read = caller.submits_for(&query.organ_id)
            || caller.reads_everything()
            || caller.has(crate::auth::Role::Reviewer);
        if !may_read {
            return Err(Error::PermissionDenied(format!(
                "{} may not read the obligations of organ {}",
                caller.describe(),
                query.organ_id
            )));
        }
        let organ = self.organ(&query.organ_id).await?;
        let now = query.as_of.unwrap_or_else(|| (self.clock)());
        let today = vietnam_date(now);
        let forms: Vec<FormVersion> = self
            .store
            .latest_form_versions()
            .await?
            .into_iter()
            .filter(|version| {
                version.definition.is_owed_by(organ.kind)
                    && query
                        .form_code
                        .as_ref()
                        .is_none_or(|code| *code == version.form_code)
            })
            .collect();
        if let Some(code) = &query.form_code
            && forms.is_empty()
            && self.store.get_form(code).await?.is_none()
        {
            return Err(Error::not_found(ResourceKind::Form, code));
        }
        let reports = self
            .store
            .list_reports(
                &ReportFilter {
                    organ_id: Some(organ.id.clone()),
                    form_code: query.form_code.clone(),
                    ..ReportFilter::default()
                },
                None,
                u32::MAX,
            )
            .await?;
        let reports: HashMap<(&str, Period), &Report> = reports
            .iter()
            .map(|report| ((report.form_code.as_str(), report.period), report))
            .collect();

        let mut obligations = Vec::new();
        for version in &forms {
            let definition = &version.definition;
            for period in periods_started_by(definition, today) {
                let deadline = period.deadline(definition.window_rule, definition.deadline_days_after_cutoff);
                let report = reports.get(&(version.form_code.as_str(), period));
                let status = match report {
                    None if now > deadline => ObligationStatus::Overdue,
                    None => ObligationStatus::NotSubmitted,
                    Some(report) => match report.status {
                        ReportStatus::Submitted => ObligationStatus::Submitted,
                        ReportStatus::Returned => ObligationStatus::Returned,
                        ReportStatus::Accepted => ObligationStatus::Accepted,
                    },
                };
                if query.status.is_some_and(|wanted| wanted != status) {
                    continue;
                }
                obligations.push(Obligation {
                    form_code: version.form_code.clone(),
                    form_title: definition.title.clone(),
                    period,
                    cutoff: period.cutoff_window(definition.window_rule),
                    deadline,
                    status,
                    late: report.is_some_and(|report| report.late),
                    report_id: report.map(|report| report.id),
                });
            }
        }
        obligations.sort_by(|left, right| {
            right
                .deadline
                .cmp(&left.deadline)
                .then_with(|| left.form_code.cmp(&right.form_code))
        });
        // The list is computed, not stored, so the token is a position in it.
        let start = match page.after.as_deref() {
            None => 0,
            Some(position) => position
                .parse::<usize>()
                .map_err(|_| Error::invalid("page_token", "not a token returned by this list call"))?,
        };
        let fetched: Vec<(usize, Obligation)> = obligations
            .into_iter()
            .enumerate()
            .skip(start)
            .take(page.fetch_limit() as usize)
            .collect();
        Ok(
            Page::from_fetched(fetched, page, |(position, _)| (position + 1).to_string())
                .map(|(_, obligation)| obligation),
        )
    }

    pub async fn completeness(
        &self,
        caller: &Principal,
        form_code: &str,
        period: &str,
    ) -> Result<Completeness> {
        let owner = self.form_owner(form_code).await?;
        if !(caller.reviews_for(&owner) || caller.reads_everything()) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read completeness of form {form_code}; its reviewer {owner}, analysts and admins may",
                caller.describe()
            )));
        }
        let version = self.form_version(form_code, 0).await?;
        let definition = &version.definition;
        let mut violations = Violations::new();
        let parsed = parse_period_for(definition, period, &mut violations);
        violations.into_result()?;
        let Some(period) = parsed else {
            return Err(Error::internal("a period without violations must have parsed"));
        };
        let expected = self
            .store
            .reporting_organs(&definition.reporting_organ_kinds)
            .await?;
        let reports = self
            .store
            .list_reports(
                &ReportFilter {
                    form_code: Some(form_code.to_owned()),
                    period: Some(period),
                    ..ReportFilter::default()
                },
                None,
                u32::MAX,
            )
            .await?;
        let by_organ: HashMap<&str, &Report> = reports
            .iter()
            .map(|report| (report.organ_id.as_str(), report))
            .collect();
        let mut completeness = Completeness {
            form_code: form_code.to_owned(),
            period,
            deadline: period.deadline(definition.window_rule, definition.deadline_days_after_cutoff),
            expected: 0,
            submitted: 0,
            on_time: 0,
            late: 0,
            accepted: 0,
            returned: 0,
            missing: Vec::new(),
        };
        for organ in expected {
            completeness.expected += 1;
            let Some(report) = by_organ.get(organ.id.as_str()) else {
                completeness.missing.push(organ);
                continue;
            };
            completeness.submitted += 1;
            if report.late {
                completeness.late += 1;
            } else {
                completeness.on_time += 1;
            }
            match report.status {
                ReportStatus::Accepted => completeness.accepted += 1,
                ReportStatus::Returned => completeness.returned += 1,
                ReportStatus::Submitted => {}
            }
        }
        Ok(completeness)
    }

    async fn check_may_read(&self, caller: &Principal, report: &Report) -> Result<()> {
        if caller.reads_everything() || caller.submits_for(&report.organ_id) {
            return Ok(());
        }
        if caller.has(crate::auth::Role::Reviewer)
            && caller.reviews_for(&self.form_owner(&report.form_code).await?)
        {
            return Ok(());
        }
        Err(Error::PermissionDenied(format!(
            "{} may not read {}",
            caller.describe(),
            report_name(report.id)
        )))
    }

    async fn replay_revision(&self, resource: &str) -> Result<SubmittedRevision> {
        let (report_id, revision) = parse_revision_name(resource)
            .ok_or_else(|| Error::internal(format!("stored resource {resource:?} is not a revision name")))?;
        let report = self.report(report_id).await?;
        let revision = self.revision(report_id, revision).await?;
        Ok(SubmittedRevision {
            report_id,
            revision,
            deadline: report.deadline,
        })
    }

    async fn replay_after_race(&self, key: &crate::store::IdempotencyKey) -> Result<SubmittedRevision> {
        match earlier_request(self.store.as_ref(), key).await? {
            Some(resource) => self.replay_revision(&resource).await,
            None => Err(Error::internal("idempotency key conflict without a stored key")),
        }
    }

    async fn organ(&self, id: &str) -> Result<Organ> {
        self.store
            .get_organ(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Organ, id))
    }

    async fn report(&self, id: i64) -> Result<Report> {
        self.store
            .get_report(id)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::Report, report_name(id)))
    }

    async fn revision(&self, report_id: i64, revision: u32) -> Result<ReportRevision> {
        self.store
            .get_revision(report_id, revision)
            .await?
            .ok_or_else(|| Error::not_found(ResourceKind::ReportRevision, revision_name(report_id, revision)))
    }

    async fn form_owner(&self, form_code: &str) -> Result<String> {
        Ok(self.form_version(form_code, 0).await?.definition.owner_organ)
    }

    /// A published version of a form; `version` 0 means the latest.
    async fn form_version(&self, form_code: &str, version: u32) -> Result<FormVersion> {
        published_version(self.store.as_ref(), form_code, version).await
    }
}

/// A published version of a form; `version` 0 means the latest. `NotFound`
/// for an unknown form or version, `FailedPrecondition` for a form never
/// published.
pub(super) async fn published_version(
    store: &dyn Store,
    form_code: &str,
    version: u32,
) -> Result<FormVersion> {
    let form = store
        .get_form(form_code)
        .await?
        .ok_or_else(|| Error::not_found(ResourceKind::Form, form_code))?;
    let version = if version == 0 {
        if form.latest_version == 0 {
            return Err(Error::FailedPrecondition {
                violation_type: "FORM_NOT_PUBLISHED",
                subject: format!("forms/{form_code}"),
                description: format!("form {form_code} has no published version yet"),
            });
        }
        form.latest_version
    } else {
        version
    };
    store.get_form_version(form_code, version).await?.ok_or_else(|| {
        Error::not_found(
            ResourceKind::FormVersion,
            format!("forms/{form_code}/versions/{version}"),
        )
    })
}

/// Resource name of a report.
pub fn report_name(report_id: i64) -> String {
    format!("reports/{report_id}")
}

/// Resource name of a report revision.
pub fn revision_name(report_id: i64, revision: u32) -> String {
    format!("reports/{report_id}/revisions/{revision}")
}

/// Parses `reports/{id}/revisions/{n}`.
pub fn parse_revision_name(name: &str) -> Option<(i64, u32)> {
    let rest = name.strip_prefix("reports/")?;
    let (id, revision) = rest.split_once("/revisions/")?;
    Some((id.parse().ok()?, revision.parse().ok()?))
}

fn stale_revision(report: &Report, named: u32) -> Error {
    Error::FailedPrecondition {
        violation_type: "STALE_REVISION",
        subject: report_name(report.id),
        description: format!(
            "revision {named} is not the latest; the report is at revision {}",
            report.latest_revision
        ),
    }
}

fn check_narrative(narrative: &str, violations: &mut Violations) {
    check_free_text("narrative", narrative, MAX_NARRATIVE_CHARS, violations);
}

/// Parses a period id and checks it fits the form's periodicity.
fn parse_period_for(definition: &FormDefinition, text: &str, violations: &mut Violations) -> Option<Period> {
    parse_period_field(definition, "period", text, violations)
}

/// Parses the period id in request field `field` and checks it fits the
/// form's periodicity.
pub(super) fn parse_period_field(
    definition: &FormDefinition,
    field: &str,
    text: &str,
    violations: &mut Violations,
) -> Option<Period> {
    let period = match text.parse::<Period>() {
        Ok(period) => period,
        Err(error) => {
            violations.add(field, error.to_string());
            return None;
        }
    };
    if period.periodicity() != definition.periodicity {
        violations.add(
            field,
            format!(
                "{period} is not a {:?} period, as this form needs",
                definition.periodicity
            ),
        );
        return None;
    }
    Some(period)
}

/// Parses the period of a submission and checks the form is owed for it: not
/// before the form's first period and not before its cut-off window opens.
fn check_period(
    definition: &FormDefinition,
    text: &str,
    now: OffsetDateTime,
    violations: &mut Violations,
) -> Option<Period> {
    let period = parse_period_for(definition, text, violations)?;
    if let Some(first) = definition.first_period
        && period < first
    {
        violations.add(
            "period",
            format!("the form is owed from {first}; {period} is earlier"),
        );
    }
    let window = period.cutoff_window(definition.window_rule);
    if window.start > vietnam_date(now) {
        violations.add(
            "period",
            format!(
                "{period} has not started: its cut-off window opens on {}",
                window.start
            ),
        );
    }
    Some(period)
}

/// The periods of a periodic form whose cut-off window has opened by `today`.
pub(super) fn periods_started_by(definition: &FormDefinition, today: time::Date) -> Vec<Period> {
    let Some(first) = definition.first_period else {
        return Vec::new();
    };
    if definition.periodicity == Periodicity::AdHoc {
        return Vec::new();
    }
    let mut periods = Vec::new();
    let mut period = first;
    while periods.len() < MAX_PERIODS_PER_FORM && period.cutoff_window(definition.window_rule).start <= today
    {
        periods.push(period);
        let next = period.next();
        if next == period {
            break;
        }
        period = next;
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_names_round_trip() {
        assert_eq!(parse_revision_name(&revision_name(42, 3)), Some((42, 3)));
        assert_eq!(parse_revision_name("reports/x/revisions/1"), None);
        assert_eq!(parse_revision_name("forms/a"), None);
    }

    #[test]
    fn periods_started_stop_at_today() {
        let definition = crate::form::tests::sample_definition();
        let today = time::macros::date!(2025 - 10 - 20);
        let periods: Vec<String> = periods_started_by(&definition, today)
            .iter()
            .map(ToString::to_string)
            .collect();
        // 2025-11's Decree 09 window opens on 15 October.
        assert_eq!(periods, ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11"]);
    }
}
