//! Recommendations over the generated history, so the cluster rankings, the
//! answered-matches figure and the dossier have years of matters to work
//! on. Every quarter a few matters of the sample set
//! (`crates/dedup/data/labelled`) are in the air; about half of the
//! communes raise one of them, through one of their organs, in the words of
//! a sample recommendation of that matter, addressed to the Department of
//! Home Affairs. A month into the next quarter the department answers about
//! half of those clusters still unanswered and escalates to the central
//! government one in ten of those raised by five communes or more that
//! quarter.
//!
//! Everything is submitted through the recommendation use cases under a
//! clock set to the moment it happens, so dedup decisions, events and
//! spans are what real submissions leave; request ids follow from the
//! quarter and the commune (or the cluster), so filling again adds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::directory::Organ;
use lienthong_domain::period::vietnam_date;
use lienthong_domain::service::{Services, SubmitRecommendation};
use lienthong_domain::store::Store;
use time::{Duration, OffsetDateTime};

use super::{Rng, SettableClock, Span, acting_as};
use crate::demo::{SampleRecommendation, sample_recommendations};

/// Where the generated recommendations are addressed, and who decides them.
const DEPARTMENT: &str = "01-home-affairs";
/// Matters of the sample set raised in one quarter.
const MATTERS_PER_QUARTER: u64 = 8;
/// Share of communes raising a matter in a quarter.
const RAISING_SHARE: f64 = 0.5;
/// Share of a quarter's unanswered clusters answered in the next one.
const ANSWERED_SHARE: f64 = 0.5;
/// Share of the widely raised clusters escalated instead.
const ESCALATED_SHARE: f64 = 0.1;
/// Localities from which a cluster counts as widely raised.
const WIDELY_RAISED: usize = 5;
/// How long into the next quarter the department decides.
const DECISION_DELAY: Duration = Duration::days(30);

/// What [`send`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentRecommendations {
    pub submitted: u64,
    pub clusters_answered: u64,
    pub clusters_escalated: u64,
}

/// Sends the recommendations of `span` from the communes of `organs`, as of
/// `now` (nothing is sent or decided after it).
pub async fn send(
    store: Arc<dyn Store>,
    seed: u64,
    span: &Span,
    organs: &[Organ],
    now: OffsetDateTime,
) -> anyhow::Result<SentRecommendations> {
    let samples = sample_recommendations()?;
    let mut by_matter: BTreeMap<&str, Vec<&SampleRecommendation>> = BTreeMap::new();
    for sample in &samples {
        by_matter.entry(sample.cluster.as_str()).or_default().push(sample);
    }
    let matters: Vec<Vec<&SampleRecommendation>> = by_matter.into_values().collect();
    let mut communes: BTreeMap<&str, Vec<&Organ>> = BTreeMap::new();
    for organ in organs {
        communes
            .entry(organ.locality_code.as_str())
            .or_default()
            .push(organ);
    }

    let clock = SettableClock::at(now);
    let services = Services::new(store.clone(), clock.clock());
    let department = acting_as(store.as_ref(), DEPARTMENT, Role::Reviewer).await?;
    let mut sent = SentRecommendations::default();
    // The clusters the last quarter's recommendations went to, with the
    // communes that raised each: what the department decides on next.
    let mut last_quarters_clusters: RaisedClusters = BTreeMap::new();
    for quarter in span.first_quarter.through(span.last_quarter) {
        let (start, end) = quarter.calendar_span(quarter);
        let label = quarter.to_string();
        let deciding_at = start + DECISION_DELAY;
        let mut undecided = deciding_at < now;
        let decider = Decider {
            services: &services,
            store: store.as_ref(),
            department: &department,
            seed,
            quarter: &label,
            at: deciding_at,
        };
        let mut matters_rng = Rng::new(seed, &["recommended matters", &label]);
        let in_the_air: Vec<&Vec<&SampleRecommendation>> = (0..MATTERS_PER_QUARTER)
            .filter_map(|_| matters.get(pick(&mut matters_rng, matters.len())))
            .collect();
        let mut submissions = Vec::new();
        for (locality, commune_organs) in &communes {
            let mut rng = Rng::new(seed, &["recommendation", &label, locality]);
            if !rng.chance(RAISING_SHARE) {
                continue;
            }
            let (Some(matter), at) = (
                in_the_air.get(pick(&mut rng, in_the_air.len())),
                start + (end - start) * rng.unit(),
            ) else {
                continue;
            };
            let (Some(sample), Some(organ)) = (
                matter.get(pick(&mut rng, matter.len())),
                commune_organs.get(pick(&mut rng, commune_organs.len())),
            ) else {
                continue;
            };
            if at < now {
                submissions.push((at, *organ, *sample, *locality));
            }
        }
        submissions.sort_by_key(|(at, ..)| *at);
        let mut clusters: RaisedClusters = BTreeMap::new();
        for (at, organ, sample, locality) in submissions {
            // In time order: what is submitted after the decisions sees them.
            if undecided && at >= deciding_at {
                clock.set(deciding_at);
                decider.decide(&last_quarters_clusters, &mut sent).await?;
                undecided = false;
            }
            clock.set(at);
            let view = services
                .recommendations
                .submit(
                    &Principal::in_process(organ.clone(), Role::Submitter),
                    SubmitRecommendation {
                        organ_id: organ.id.clone(),
                        text: sample.text.clone(),
                        topic: String::new(),
                        addressee: DEPARTMENT.to_owned(),
                        source: "generated history".to_owned(),
                        request_id: format!("generated-{label}-{locality}"),
                    },
                )
                .await?;
            clusters
                .entry(view.recommendation.cluster_id)
                .or_default()
                .insert(locality);
            sent.submitted += 1;
        }
        if undecided {
            clock.set(deciding_at);
            decider.decide(&last_quarters_clusters, &mut sent).await?;
        }
        last_quarters_clusters = clusters;
    }
    Ok(sent)
}

/// Clusters a quarter's recommendations went to, each with the communes
/// that raised it then.
type RaisedClusters<'a> = BTreeMap<i64, BTreeSet<&'a str>>;

/// The department deciding, in `quarter`, at a moment the clock is set to.
struct Decider<'a> {
    services: &'a Services,
    store: &'a dyn Store,
    department: &'a Principal,
    seed: u64,
    quarter: &'a str,
    at: OffsetDateTime,
}

impl Decider<'_> {
    /// Decides on the clusters the last quarter raised that are still
    /// unanswered and the department's. Each draw follows from the seed, the
    /// cluster and the quarter, and "widely raised" from the communes the
    /// generator itself sent, so filling again decides nothing new.
    async fn decide(
        &self,
        clusters: &RaisedClusters<'_>,
        sent: &mut SentRecommendations,
    ) -> anyhow::Result<()> {
        let Decider {
            services,
            store,
            department,
            seed,
            quarter,
            at,
        } = *self;
        for (&cluster_id, communes) in clusters {
            let Some(cluster) = store.get_cluster(cluster_id).await? else {
                continue;
            };
            if !cluster.status.is_unanswered()
                || cluster.member_count == 0
                || !cluster.is_handled_by(DEPARTMENT)
            {
                continue;
            }
            let mut rng = Rng::new(
                seed,
                &["recommendation decision", &cluster_id.to_string(), quarter],
            );
            if communes.len() >= WIDELY_RAISED && rng.chance(ESCALATED_SHARE) {
                services
                    .recommendations
                    .escalate(
                        department,
                        cluster_id,
                        "Đề nghị Chính phủ, các bộ, ngành xem xét, sửa đổi quy định để địa phương thực hiện \
                         thống nhất.",
                        &format!("generated-escalate-{cluster_id}-{quarter}"),
                    )
                    .await?;
                sent.clusters_escalated += 1;
            } else if rng.chance(ANSWERED_SHARE) {
                let today = vietnam_date(at);
                services
                .recommendations
                .answer(
                    department,
                    cluster_id,
                    "Sở Nội vụ đã tổng hợp, hướng dẫn và giao các phòng chuyên môn phối hợp giải quyết; đề \
                     nghị các xã, phường triển khai theo văn bản hướng dẫn.",
                    &format!("{cluster_id}/SNV-TH"),
                    &today.to_string(),
                    &format!("generated-answer-{cluster_id}-{quarter}"),
                )
                .await?;
                sent.clusters_answered += 1;
            }
        }
        Ok(())
    }
}

/// A position in `0..length` drawn from `rng`; 0 for an empty range,
/// which the caller's `get` then finds nothing at.
fn pick(rng: &mut Rng, length: usize) -> usize {
    let length = u64::try_from(length).unwrap_or(u64::MAX).max(1);
    usize::try_from(rng.next() % length).unwrap_or(0)
}
