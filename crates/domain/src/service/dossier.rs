//! What city departments read off the recommendation clusters: clusters
//! ranked by how widely they were raised in a range of periods, how many
//! recommendations matched a matter already answered, and the dossier of
//! matters for the central government.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::analytics::{AggregateQuery, AnalyticsService, GroupDimension, parse_period_range};
use super::recommendations::require_cluster_reader;
use crate::analytics::ReportSelection;
use crate::auth::Principal;
use crate::directory::Bloc;
use crate::dossier::{Dossier, DossierEntry, Evidence, Inclusion, SupportingLocality};
use crate::error::{Error, Result, Violations};
use crate::form::FormVersion;
use crate::period::{Period, Periodicity, WindowRule};
use crate::recommendation::{
    CENTRAL, ClusterRanking, ClusterStatus, DedupOutcome, RankedCluster, TOPIC_LABEL_RULE, is_topic_label,
};
use crate::store::Store;

/// Default and largest number of ranked clusters in one answer.
pub const DEFAULT_RANKED_CLUSTERS: u32 = 50;
pub const MAX_RANKED_CLUSTERS: u32 = 500;
/// A dossier holds at most this many matters; narrower criteria make a
/// readable document, so more is refused rather than cut.
pub const MAX_DOSSIER_MATTERS: u32 = 500;

/// Which clusters to rank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RankClustersQuery {
    pub from_period: String,
    pub to_period: String,
    pub status: Option<ClusterStatus>,
    /// Any of these topics; every topic when empty.
    pub topics: Vec<String>,
    /// An addressee (a department or CENTRAL); any when empty.
    pub addressee: String,
    pub min_distinct_localities: u32,
    /// 0 for the default.
    pub limit: u32,
}

/// Recommendations of one bloc in one period, and how many of them matched a
/// matter already answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlocMatches {
    pub bloc: Bloc,
    pub submitted: u64,
    pub already_answered: u64,
}

/// One period's figures, one row per bloc (every bloc, zeros included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodMatches {
    pub period: Period,
    pub blocs: Vec<BlocMatches>,
}

/// The "already answered" figure over a range of periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredMatches {
    pub periods: Vec<PeriodMatches>,
    /// Per bloc over the whole range.
    pub totals: Vec<BlocMatches>,
}

/// What goes into a dossier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DossierQuery {
    pub from_period: String,
    pub to_period: String,
    /// Matters raised by at least this many distinct localities are included
    /// (besides escalated ones and ones addressed to the central government);
    /// 0 counts as 1.
    pub min_distinct_localities: u32,
    /// Only these topics; every topic when empty.
    pub topics: Vec<String>,
}

#[derive(Clone)]
pub struct DossierService {
    store: Arc<dyn Store>,
    /// Figures behind the matters, read with the caller's rights.
    analytics: AnalyticsService,
}

impl std::fmt::Debug for DossierService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DossierService").finish_non_exhaustive()
    }
}

/// The store's ranking order: most distinct localities, then most distinct
/// blocs, then the oldest cluster.
fn ranking_order(left: &RankedCluster, right: &RankedCluster) -> std::cmp::Ordering {
    right
        .localities_in_span
        .len()
        .cmp(&left.localities_in_span.len())
        .then(right.blocs_in_span.len().cmp(&left.blocs_in_span.len()))
        .then(left.cluster.first_seen.cmp(&right.cluster.first_seen))
        .then(left.cluster.id.cmp(&right.cluster.id))
}

fn check_topics(topics: &[String], violations: &mut Violations) {
    for (index, topic) in topics.iter().enumerate() {
        if !is_topic_label(topic) {
            violations.add(format!("topics[{index}]"), TOPIC_LABEL_RULE);
        }
    }
}

impl DossierService {
    pub fn new(store: Arc<dyn Store>, analytics: AnalyticsService) -> Self {
        Self { store, analytics }
    }

    pub async fn rank_clusters(
        &self,
        caller: &Principal,
        query: &RankClustersQuery,
    ) -> Result<Vec<RankedCluster>> {
        require_cluster_reader(caller)?;
        let mut violations = Violations::new();
        let range = parse_period_range(&query.from_period, &query.to_period, None, &mut violations);
        check_topics(&query.topics, &mut violations);
        if query.limit > MAX_RANKED_CLUSTERS {
            violations.add("limit", format!("at most {MAX_RANKED_CLUSTERS}"));
        }
        violations.into_result()?;
        let Some((from, to)) = range else {
            return Err(Error::internal(
                "a range that failed to parse raised no violation",
            ));
        };
        let (from, until) = from.calendar_span(to);
        let ranking = ClusterRanking {
            from,
            until,
            status: query.status,
            topics: query.topics.clone(),
            addressee: (!query.addressee.is_empty()).then(|| query.addressee.clone()),
            min_distinct_localities: query.min_distinct_localities,
        };
        let limit = if query.limit == 0 {
            DEFAULT_RANKED_CLUSTERS
        } else {
            query.limit
        };
        self.store.rank_clusters(&ranking, limit).await
    }

    pub async fn answered_matches(
        &self,
        caller: &Principal,
        from_period: &str,
        to_period: &str,
    ) -> Result<AnsweredMatches> {
        require_cluster_reader(caller)?;
        let mut violations = Violations::new();
        let range = parse_period_range(from_period, to_period, None, &mut violations);
        violations.into_result()?;
        let Some((from, to)) = range else {
            return Err(Error::internal(
                "a range that failed to parse raised no violation",
            ));
        };
        let mut totals: BTreeMap<usize, BlocMatches> = BTreeMap::new();
        let mut periods = Vec::new();
        for period in from.through(to) {
            let (start, end) = period.calendar_span(period);
            let counts = self.store.count_outcomes(start, end).await?;
            let blocs: Vec<BlocMatches> = Bloc::ALL
                .iter()
                .map(|&bloc| {
                    let of_bloc = counts.iter().filter(|count| count.bloc == bloc);
                    BlocMatches {
                        bloc,
                        submitted: of_bloc.clone().map(|count| count.count).sum(),
                        already_answered: of_bloc
                            .filter(|count| count.outcome == DedupOutcome::AlreadyAnswered)
                            .map(|count| count.count)
                            .sum(),
                    }
                })
                .collect();
            for (position, matches) in blocs.iter().enumerate() {
                let total = totals.entry(position).or_insert(BlocMatches {
                    bloc: matches.bloc,
                    submitted: 0,
                    already_answered: 0,
                });
                total.submitted += matches.submitted;
                total.already_answered += matches.already_answered;
            }
            periods.push(PeriodMatches { period, blocs });
        }
        Ok(AnsweredMatches {
            periods,
            totals: totals.into_values().collect(),
        })
    }

    /// The dossier: escalated matters, matters addressed to the central
    /// government, and matters raised by at least the minimum of localities,
    /// among clusters with recommendations in the range; most widely raised
    /// first (the ranking's order).
    pub async fn build(&self, caller: &Principal, query: &DossierQuery) -> Result<Dossier> {
        require_cluster_reader(caller)?;
        let mut violations = Violations::new();
        let range = parse_period_range(&query.from_period, &query.to_period, None, &mut violations);
        check_topics(&query.topics, &mut violations);
        violations.into_result()?;
        let Some((from_period, to_period)) = range else {
            return Err(Error::internal(
                "a range that failed to parse raised no violation",
            ));
        };
        let (from, until) = from_period.calendar_span(to_period);
        // Three rankings, each bounded: escalated matters, matters addressed
        // to the central government, and matters above the threshold. A
        // cluster may be in several; it is kept once, under the first reason.
        let base = ClusterRanking {
            from,
            until,
            status: None,
            topics: query.topics.clone(),
            addressee: None,
            min_distinct_localities: 0,
        };
        let rankings = [
            ClusterRanking {
                status: Some(ClusterStatus::EscalatedToCentral),
                ..base.clone()
            },
            ClusterRanking {
                addressee: Some(CENTRAL.to_owned()),
                ..base.clone()
            },
            ClusterRanking {
                min_distinct_localities: query.min_distinct_localities.max(1),
                ..base
            },
        ];
        let mut included: Vec<(RankedCluster, Inclusion)> = Vec::new();
        for ranking in &rankings {
            for ranked in self.store.rank_clusters(ranking, MAX_DOSSIER_MATTERS + 1).await? {
                let already = included
                    .iter()
                    .any(|(kept, _)| kept.cluster.id == ranked.cluster.id);
                if let (false, Some(inclusion)) =
                    (already, Inclusion::of(&ranked, query.min_distinct_localities))
                {
                    included.push((ranked, inclusion));
                }
            }
        }
        if included.len() > MAX_DOSSIER_MATTERS as usize {
            return Err(Error::ResourceExhausted {
                subject: "dossier matters".to_owned(),
                description: format!(
                    "more than {MAX_DOSSIER_MATTERS} matters meet the criteria; raise \
                     min_distinct_localities, name topics or shorten the range"
                ),
            });
        }
        included.sort_by(|(left, _), (right, _)| ranking_order(left, right));
        let forms = self.store.latest_form_versions().await?;
        let last_day = to_period.cutoff_window(WindowRule::Calendar).end;
        let mut entries = Vec::with_capacity(included.len());
        for (ranked, inclusion) in included {
            let mut localities = Vec::with_capacity(ranked.localities_in_span.len());
            for code in &ranked.localities_in_span {
                let name = self
                    .store
                    .get_locality(code)
                    .await?
                    .map_or_else(|| code.clone(), |locality| locality.name);
                localities.push(SupportingLocality {
                    code: code.clone(),
                    name,
                });
            }
            let evidence = match &ranked.cluster.topic {
                Some(topic) => {
                    self.evidence(caller, &forms, topic, &ranked.localities_in_span, last_day)
                        .await?
                }
                None => Vec::new(),
            };
            entries.push(DossierEntry {
                ranked,
                inclusion,
                localities,
                evidence,
            });
        }
        Ok(Dossier {
            from_period,
            to_period,
            min_distinct_localities: query.min_distinct_localities.max(1),
            topics: query.topics.clone(),
            entries,
        })
    }

    /// Figures of the indicators that measure `topic`, summed over
    /// `localities`, each form at its period containing `last_day`. Forms
    /// the caller may not read are left out, as are forms not yet owed then.
    async fn evidence(
        &self,
        caller: &Principal,
        forms: &[FormVersion],
        topic: &str,
        localities: &[String],
        last_day: time::Date,
    ) -> Result<Vec<Evidence>> {
        let mut found = Vec::new();
        for form in forms {
            let definition = &form.definition;
            let measuring: Vec<String> = definition
                .indicators
                .iter()
                .filter(|indicator| indicator.topics.iter().any(|tagged| tagged == topic))
                .map(|indicator| indicator.code.clone())
                .collect();
            if measuring.is_empty() || definition.periodicity == Periodicity::AdHoc {
                continue;
            }
            let Some(period) = Period::containing(definition.periodicity, WindowRule::Calendar, last_day)
            else {
                continue;
            };
            if definition.first_period.is_none_or(|first| period < first) {
                continue;
            }
            let query = AggregateQuery {
                form_code: form.form_code.clone(),
                form_version: form.version,
                indicator_codes: measuring,
                from_period: period.to_string(),
                to_period: period.to_string(),
                group_by: vec![GroupDimension::City],
                rollup: None,
                locality_codes: localities.to_vec(),
                blocs: Vec::new(),
                selection: ReportSelection::LatestRevision,
            };
            let aggregates = match self.analytics.aggregate(caller, &query, None).await {
                Ok(aggregates) => aggregates,
                Err(Error::PermissionDenied(_)) => continue,
                Err(other) => return Err(other),
            };
            for row in aggregates.rows {
                let Some(indicator) = definition.indicator(&row.indicator_code) else {
                    continue;
                };
                found.push(Evidence {
                    form_code: form.form_code.clone(),
                    form_title: definition.title.clone(),
                    period,
                    indicator_code: row.indicator_code.clone(),
                    indicator_name: indicator.name.clone(),
                    unit: indicator.unit.clone(),
                    value: row.value,
                    contributing_reports: row.contributing,
                    missing_reports: row.missing,
                });
            }
        }
        Ok(found)
    }
}
