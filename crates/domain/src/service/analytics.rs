//! Analytics use cases: indicator roll-ups, reporting rates and outliers.
//!
//! What is expected comes from the obligations logic (the organs that owe
//! the form, for the periods whose cut-off window has opened); what was
//! reported comes from one read of the reports in scope, added up here by
//! each indicator's rule. Every aggregate row carries both counts, so a
//! total is never silently partial.
//!
//! Who reads what: ANALYST and ADMIN every form city-wide, a REVIEWER the
//! forms its department owns city-wide (per-locality figures are report
//! contents, which a reviewer reads only for its own forms); a SUBMITTER's
//! request is narrowed to its own organ, and naming another locality or a
//! bloc other than its own is refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rust_decimal::prelude::ToPrimitive as _;
use time::OffsetDateTime;

use super::Clock;
use super::reports::{parse_period_field, periods_started_by, published_version};
use crate::analytics::{
    CatalogueVersions, Gathered, GroupKey, Grouping, HistoryScore, RatioParts, Receipts, ReportReceipt,
    ReportScope, ReportSelection, ReportedValue, Source, Tally, modified_z_score, not_aggregatable, rolls_up,
    rollup_period,
};
use crate::auth::{Principal, Role};
use crate::directory::{Bloc, Organ, OrganKind, is_locality_code};
use crate::error::{Error, Result, Violations};
use crate::form::{Aggregation, FormDefinition, FormVersion, Indicator};
use crate::paging::{Page, PageLimits, PageRequest};
use crate::period::{Period, Periodicity, vietnam_date};
use crate::store::Store;

/// The longest period range one request may span.
pub const MAX_RANGE_PERIODS: usize = 600;
/// Pages of [`AnalyticsService::reporting_rates`].
pub const RATE_PAGES: PageLimits = PageLimits {
    default_size: 200,
    max_size: 1_000,
};
/// Pages of [`AnalyticsService::outliers`].
pub const OUTLIER_PAGES: PageLimits = PageLimits {
    default_size: 50,
    max_size: 500,
};
/// The limit named when an aggregate has too many rows.
pub const MAX_ROWS_SETTING: &str = "analytics_max_rows";
const DEFAULT_LOOKBACK_PERIODS: u32 = 24;
const DEFAULT_MIN_HISTORY: u32 = 6;
const HISTORY_LIMITS: std::ops::RangeInclusive<u32> = 1..=120;
const MIN_HISTORY_LIMITS: std::ops::RangeInclusive<u32> = 3..=120;
/// Iglewicz and Hoaglin's suggested cut-off for the modified z-score.
pub const DEFAULT_Z_SCORE_THRESHOLD: f64 = 3.5;

/// A dimension aggregates are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupDimension {
    Locality,
    Bloc,
    Period,
    /// No split: one group for the city. Only on its own.
    City,
}

impl GroupDimension {
    fn as_str(self) -> &'static str {
        match self {
            GroupDimension::Locality => "LOCALITY",
            GroupDimension::Bloc => "BLOC",
            GroupDimension::Period => "PERIOD",
            GroupDimension::City => "CITY",
        }
    }
}

/// What [`AnalyticsService::aggregate`] is asked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregateQuery {
    pub form_code: String,
    /// 0 means the latest published version.
    pub form_version: u32,
    /// Empty means every indicator that can be aggregated.
    pub indicator_codes: Vec<String>,
    pub from_period: String,
    pub to_period: String,
    pub group_by: Vec<GroupDimension>,
    /// With period grouping: the longer periodicity to roll up to.
    pub rollup: Option<Periodicity>,
    pub locality_codes: Vec<String>,
    pub blocs: Vec<Bloc>,
    pub selection: ReportSelection,
}

/// One indicator aggregated over one group.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub key: GroupKey,
    pub indicator_code: String,
    pub aggregation: Aggregation,
    pub value: Option<f64>,
    /// RATIO only: the summed numerator and denominator.
    pub ratio: Option<RatioParts>,
    pub expected: u32,
    pub contributing: u32,
    pub missing: u32,
    /// Periods of the group within the asked range whose cut-off window has
    /// not opened yet: nothing is owed or counted for them, so the group is
    /// still partial however complete its reports.
    pub periods_not_yet_open: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    pub form_code: String,
    pub form_version: u32,
    pub rows: Vec<AggregateRow>,
}

/// An aggregation checked and ready to run ([`AnalyticsService::plan_aggregate`]):
/// the indicators, the groups with the reports each is owed, and the
/// reports to read.
#[derive(Debug, Clone)]
pub struct AggregatePlan {
    version: Arc<FormVersion>,
    indicators: Vec<Indicator>,
    grouping: Grouping,
    scope: ReportScope,
    /// The organs that owe the form, within the scope.
    organs: Vec<Organ>,
    /// Each period read with the group period it counts in.
    buckets: Vec<(Period, Period)>,
    /// Reports owed per group, in row order.
    expected: BTreeMap<GroupKey, u32>,
    /// Periods not yet open per group period (`None` without period
    /// grouping).
    not_yet_open: BTreeMap<Option<Period>, u32>,
}

impl AggregatePlan {
    pub fn form_code(&self) -> &str {
        &self.version.form_code
    }

    /// The form version whose rules apply.
    pub fn form_version(&self) -> u32 {
        self.version.version
    }

    /// Rows the aggregation gives: groups × indicators.
    pub fn row_count(&self) -> usize {
        self.expected.len().saturating_mul(self.indicators.len())
    }

    /// The plan cut into consecutive plans of whole group periods, of about
    /// `rows_per_part` rows each (at least one group period), whose rows,
    /// one after the other, are the whole plan's. Each part reads only its
    /// own periods, so a long result can be computed and sent part by
    /// part. Without period grouping every group spans the whole range and
    /// the plan stays whole.
    pub fn into_parts(self, rows_per_part: usize) -> Vec<AggregatePlan> {
        if !self.grouping.period || self.row_count() <= rows_per_part {
            return vec![self];
        }
        let mut rows_per_bucket: BTreeMap<Period, usize> = BTreeMap::new();
        for key in self.expected.keys() {
            if let Some(period) = key.period {
                *rows_per_bucket.entry(period).or_default() += self.indicators.len();
            }
        }
        let mut runs: Vec<Vec<Period>> = Vec::new();
        let mut run_rows = 0;
        for (bucket, rows) in rows_per_bucket {
            match runs.last_mut() {
                Some(run) if run_rows + rows <= rows_per_part => {
                    run.push(bucket);
                    run_rows += rows;
                }
                _ => {
                    runs.push(vec![bucket]);
                    run_rows = rows;
                }
            }
        }
        runs.into_iter()
            .map(|run| {
                let buckets: Vec<(Period, Period)> = self
                    .buckets
                    .iter()
                    .filter(|(_, bucket)| run.contains(bucket))
                    .copied()
                    .collect();
                let expected = self
                    .expected
                    .iter()
                    .filter(|(key, _)| key.period.is_some_and(|period| run.contains(&period)))
                    .map(|(key, expected)| (key.clone(), *expected))
                    .collect();
                AggregatePlan {
                    version: Arc::clone(&self.version),
                    indicators: self.indicators.clone(),
                    grouping: self.grouping,
                    scope: ReportScope {
                        periods: buckets.iter().map(|(period, _)| *period).collect(),
                        ..self.scope.clone()
                    },
                    organs: self.organs.clone(),
                    buckets,
                    expected,
                    not_yet_open: self.not_yet_open.clone(),
                }
            })
            .collect()
    }
}

/// Periods of `range` whose cut-off window has not opened (after the form's
/// first period, and not among `opened`), counted per group period: the
/// bucket with period grouping, one count (`None`) without.
fn periods_not_yet_open(
    range: Option<(Period, Period)>,
    opened: &[Period],
    first_period: Option<Period>,
    rollup: Option<Periodicity>,
    grouping: Grouping,
) -> BTreeMap<Option<Period>, u32> {
    let mut counts = BTreeMap::new();
    let (Some((from, to)), Some(first)) = (range, first_period) else {
        return counts;
    };
    for period in from.through(to) {
        if period < first || opened.contains(&period) {
            continue;
        }
        if let Some(bucket) = bucket_of(period, rollup) {
            *counts.entry(grouping.period.then_some(bucket)).or_default() += 1;
        }
    }
    counts
}

/// Reports owed per group: one per organ and period read, counted in the
/// group of the organ and the period's bucket.
fn expected_reports(
    organs: &[Organ],
    buckets: &[(Period, Period)],
    grouping: Grouping,
) -> BTreeMap<GroupKey, u32> {
    let mut expected = BTreeMap::new();
    for organ in organs {
        for (_, bucket) in buckets {
            *expected
                .entry(GroupKey::of(grouping, organ, *bucket))
                .or_default() += 1;
        }
    }
    expected
}

/// What [`AnalyticsService::reporting_rates`] is asked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RatesQuery {
    pub form_code: String,
    pub from_period: String,
    pub to_period: String,
    pub locality_codes: Vec<String>,
    pub blocs: Vec<Bloc>,
}

/// Reporting of one form for one period, in a locality or city-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportingRate {
    pub period: Period,
    /// `None` in the city trend.
    pub locality_code: Option<String>,
    pub deadline: OffsetDateTime,
    pub deadline_passed: bool,
    pub expected: u32,
    pub submitted: u32,
    pub on_time: u32,
    pub accepted: u32,
}

impl ReportingRate {
    pub fn late(&self) -> u32 {
        self.submitted.saturating_sub(self.on_time)
    }

    /// Submitted as a percentage of expected.
    pub fn reporting_rate(&self) -> Option<f64> {
        percentage(self.submitted, self.expected)
    }

    /// On time as a percentage of expected.
    pub fn on_time_rate(&self) -> Option<f64> {
        percentage(self.on_time, self.expected)
    }
}

/// The reports of one locality and period so far.
#[derive(Debug, Clone, Copy, Default)]
struct ReceiptCounts {
    submitted: u32,
    on_time: u32,
    accepted: u32,
}

impl ReceiptCounts {
    fn add(&mut self, receipt: &ReportReceipt) {
        self.submitted += 1;
        self.on_time += u32::from(receipt.on_time);
        self.accepted += u32::from(receipt.accepted);
    }
}

fn percentage(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| 100.0 * f64::from(part) / f64::from(whole))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportingRates {
    pub form_code: String,
    pub rates: Page<ReportingRate>,
    pub city_trend: Vec<ReportingRate>,
}

/// What [`AnalyticsService::outliers`] is asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutliersQuery {
    pub form_code: String,
    pub form_version: u32,
    /// Empty means every numeric indicator.
    pub indicator_codes: Vec<String>,
    pub from_period: String,
    pub to_period: String,
    pub locality_codes: Vec<String>,
    pub blocs: Vec<Bloc>,
    pub selection: ReportSelection,
    /// 0 means the default (24).
    pub lookback_periods: u32,
    /// 0 means the default (6).
    pub min_history: u32,
    /// 0 means the default (3.5).
    pub z_score_threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutlierReason {
    BelowMinimum,
    AboveMaximum,
    FarFromHistory,
}

/// A value that looks wrong, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    pub report_id: i64,
    pub revision: u32,
    pub organ_id: String,
    pub locality_code: String,
    pub period: Period,
    pub indicator_code: String,
    pub value: f64,
    pub reasons: Vec<OutlierReason>,
    /// `None` when the history is shorter than asked.
    pub history: Option<HistoryScore>,
    pub history_size: u32,
    pub explanation: String,
}

impl Outlier {
    fn breaks_bounds(&self) -> bool {
        self.reasons
            .iter()
            .any(|reason| matches!(reason, OutlierReason::BelowMinimum | OutlierReason::AboveMaximum))
    }

    fn unusualness(&self) -> f64 {
        self.history.map_or(0.0, |history| history.score.abs())
    }
}

/// How far a caller's reading reaches for one form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    City,
    OwnOrgan(Organ),
}

/// The parts every analytics request shares.
struct Common<'a> {
    form_code: &'a str,
    form_version: u32,
    from_period: &'a str,
    to_period: &'a str,
    locality_codes: &'a [String],
    blocs: &'a [Bloc],
    selection: ReportSelection,
}

/// The shared parts of a query whose fields bear the same names.
macro_rules! common_of {
    ($query:expr) => {
        Common {
            form_code: &$query.form_code,
            form_version: $query.form_version,
            from_period: &$query.from_period,
            to_period: &$query.to_period,
            locality_codes: &$query.locality_codes,
            blocs: &$query.blocs,
            selection: $query.selection,
        }
    };
}

/// A request checked as far as the shared parts go.
struct Prepared {
    version: Arc<FormVersion>,
    /// `None` when the range is invalid (a violation was recorded).
    range: Option<(Period, Period)>,
    /// Periods: those owed within the range.
    scope: ReportScope,
    /// The organs that owe the form, within the scope.
    organs: Vec<Organ>,
}

/// What every request would otherwise read again: published form versions
/// (which never change) and the organs that report, per set of kinds, as of
/// a version of the directory. Each request reads the two version numbers
/// in one small statement and refreshes what is stale; the reporting rates
/// read them with their receipts instead, planned on the versions seen last.
#[derive(Debug, Default)]
struct Catalogue {
    versions: HashMap<(String, u32), Arc<FormVersion>>,
    directory_version: i64,
    reporting_organs: HashMap<Vec<OrganKind>, Arc<Vec<Organ>>>,
    /// The catalogue versions last read with each form's reporting rates,
    /// which the next such question is planned on.
    seen_versions: HashMap<String, CatalogueVersions>,
}

#[derive(Clone)]
pub struct AnalyticsService {
    store: Arc<dyn Store>,
    clock: Clock,
    catalogue: Arc<Mutex<Catalogue>>,
}

impl std::fmt::Debug for AnalyticsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AnalyticsService {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self {
            store,
            clock,
            catalogue: Arc::default(),
        }
    }

    /// Aggregates indicators by each one's rule. With `max_rows`, a result
    /// that would be longer fails with `ResourceExhausted` before any value
    /// is read.
    pub async fn aggregate(
        &self,
        caller: &Principal,
        query: &AggregateQuery,
        max_rows: Option<usize>,
    ) -> Result<Aggregates> {
        let plan = self.plan_aggregate(caller, query, max_rows).await?;
        let rows = self.run_aggregate(&plan).await?;
        Ok(Aggregates {
            form_code: plan.form_code().to_owned(),
            form_version: plan.form_version(),
            rows,
        })
    }

    /// Checks an aggregation and works out its groups, reading no value yet.
    /// With `max_rows`, a result that would be longer fails with
    /// `ResourceExhausted`.
    pub async fn plan_aggregate(
        &self,
        caller: &Principal,
        query: &AggregateQuery,
        max_rows: Option<usize>,
    ) -> Result<AggregatePlan> {
        let mut violations = Violations::new();
        let Prepared {
            version,
            range,
            mut scope,
            organs,
        } = self.prepare(caller, &common_of!(query), &mut violations).await?;
        let definition = &version.definition;
        let indicators: Vec<Indicator> = select_indicators(
            &version,
            &query.indicator_codes,
            Purpose::Aggregate,
            &mut violations,
        )
        .into_iter()
        .cloned()
        .collect();
        let grouping = grouping_of(&query.group_by, &mut violations);
        let rollup = check_rollup(definition, query.rollup, grouping, range, &mut violations);
        violations.into_result()?;

        // Months outside every nine-month period are not read.
        scope
            .periods
            .retain(|period| bucket_of(*period, rollup).is_some());
        let buckets: Vec<(Period, Period)> = scope
            .periods
            .iter()
            .filter_map(|period| bucket_of(*period, rollup).map(|bucket| (*period, bucket)))
            .collect();

        let expected = expected_reports(&organs, &buckets, grouping);
        let not_yet_open =
            periods_not_yet_open(range, &scope.periods, definition.first_period, rollup, grouping);
        let plan = AggregatePlan {
            version,
            indicators,
            grouping,
            scope,
            organs,
            buckets,
            expected,
            not_yet_open,
        };
        let row_count = plan.row_count();
        if let Some(limit) = max_rows
            && row_count > limit
        {
            return Err(Error::ResourceExhausted {
                subject: MAX_ROWS_SETTING.to_owned(),
                description: format!(
                    "the result would have {row_count} rows, more than this server's limit of {limit}; \
                     ask for fewer indicators, periods or groups, or stream the rows with \
                     StreamAggregateIndicators"
                ),
            });
        }
        Ok(plan)
    }

    /// Reads the reports a plan covers and aggregates them: its rows, in
    /// order.
    pub async fn run_aggregate(&self, plan: &AggregatePlan) -> Result<Vec<AggregateRow>> {
        let indicators: Vec<&Indicator> = plan.indicators.iter().collect();
        let gathered = if plan.expected.is_empty() {
            Vec::new()
        } else {
            self.gather(
                &plan.scope,
                &plan.organs,
                plan.grouping,
                &plan.buckets,
                &plan.expected,
                &indicators,
            )
            .await?
        };

        let mut rows = Vec::with_capacity(plan.row_count());
        let width = indicators.len();
        for (slot, (key, expected)) in plan.expected.iter().enumerate() {
            for (index, indicator) in indicators.iter().enumerate() {
                let found = gathered.get(slot * width + index).copied().unwrap_or_default();
                let rule = indicator.aggregation;
                let contributing = u32::try_from(found.contributing(rule)).unwrap_or(u32::MAX);
                rows.push(AggregateRow {
                    key: key.clone(),
                    indicator_code: indicator.code.clone(),
                    aggregation: rule,
                    value: found.value(rule),
                    ratio: (rule == Aggregation::Ratio).then(|| found.ratio.unwrap_or_default()),
                    expected: *expected,
                    contributing,
                    missing: expected.saturating_sub(contributing),
                    periods_not_yet_open: plan.not_yet_open.get(&key.period).copied().unwrap_or(0),
                });
            }
        }
        Ok(rows)
    }

    /// Reads every report in scope in one statement and adds each into its
    /// group: what each (group, indicator) gathered, in the order of
    /// `expected` and then of `indicators`.
    async fn gather(
        &self,
        scope: &ReportScope,
        organs: &[Organ],
        grouping: Grouping,
        buckets: &[(Period, Period)],
        expected: &BTreeMap<GroupKey, u32>,
        indicators: &[&Indicator],
    ) -> Result<Vec<Gathered>> {
        // The columns read: each indicator's own code, or for a RATIO its
        // numerator's and denominator's.
        let mut codes: Vec<String> = Vec::new();
        let mut column = |code: &str| match codes.iter().position(|known| known == code) {
            Some(position) => position,
            None => {
                codes.push(code.to_owned());
                codes.len() - 1
            }
        };
        let sources: Vec<(Aggregation, Source)> = indicators
            .iter()
            .map(|indicator| {
                let source = match (&indicator.aggregation, &indicator.ratio_of) {
                    (Aggregation::Ratio, Some(ratio)) => Source::Ratio {
                        numerator: column(&ratio.numerator),
                        denominator: column(&ratio.denominator),
                    },
                    _ => Source::Values(column(&indicator.code)),
                };
                (indicator.aggregation, source)
            })
            .collect();

        // A group is an organ's part (locality, bloc, as grouped) and, with
        // period grouping, a bucket: its slot is found by two indexes
        // instead of hashing a key per report.
        let mut bucket_numbers: HashMap<Period, usize> = HashMap::new();
        let mut bucket_of_period: HashMap<Period, usize> = HashMap::with_capacity(buckets.len());
        for (period, bucket) in buckets {
            let next = bucket_numbers.len();
            let number = if grouping.period {
                *bucket_numbers.entry(*bucket).or_insert(next)
            } else {
                0
            };
            bucket_of_period.insert(*period, number);
        }
        let bucket_count = bucket_numbers.len().max(1);
        let mut parts: HashMap<GroupKey, usize> = HashMap::new();
        let mut slots: Vec<Option<usize>> = Vec::new();
        for (slot, key) in expected.keys().enumerate() {
            let part = key.clone().with_period(None);
            let next = parts.len();
            let part = *parts.entry(part).or_insert(next);
            let bucket = key.period.map_or(0, |period| bucket_numbers[&period]);
            let index = part * bucket_count + bucket;
            if slots.len() <= index {
                slots.resize(index + 1, None);
            }
            slots[index] = Some(slot);
        }
        let organ_parts: HashMap<&str, (usize, usize)> = organs
            .iter()
            .enumerate()
            .filter_map(|(number, organ)| {
                let part = GroupKey {
                    period: None,
                    locality_code: grouping.locality.then(|| organ.locality_code.clone()),
                    bloc: grouping.bloc.then_some(organ.bloc),
                };
                parts.get(&part).map(|part| (organ.id.as_str(), (number, *part)))
            })
            .collect();

        let one_period_per_group = (grouping.period
            && buckets.iter().all(|(period, bucket)| period == bucket))
            || scope.periods.len() <= 1;
        let mut tally = Tally::new(expected.len(), sources, one_period_per_group);
        for report in self.store.report_figures(scope, &codes).await? {
            // Only the organs expected count, so contributing never exceeds expected.
            let (Some((organ, part)), Some(bucket)) = (
                organ_parts.get(report.organ_id.as_str()),
                bucket_of_period.get(&report.period),
            ) else {
                continue;
            };
            let Some(&Some(slot)) = slots.get(part * bucket_count + bucket) else {
                continue;
            };
            tally.add(slot, *organ, report.period, &report.values);
        }
        Ok(tally.finish())
    }

    /// Expected, submitted and on-time reports per period and locality, and
    /// the city trend per period.
    pub async fn reporting_rates(
        &self,
        caller: &Principal,
        query: &RatesQuery,
        page: &PageRequest,
    ) -> Result<ReportingRates> {
        require_form_code(&query.form_code)?;
        let common = Common {
            form_code: &query.form_code,
            form_version: 0,
            from_period: &query.from_period,
            to_period: &query.to_period,
            locality_codes: &query.locality_codes,
            blocs: &query.blocs,
            selection: ReportSelection::LatestRevision,
        };
        // The question is planned on the catalogue versions last seen for the
        // form, and the receipts come back with the versions current when
        // they were read: one round trip, not two. If the catalogue moved
        // meanwhile, the question is planned again on what was just read.
        let remembered = self.catalogue().seen_versions.get(&query.form_code).copied();
        let mut versions = match remembered {
            Some(versions) => versions,
            None => self.store.catalogue_versions(&query.form_code).await?,
        };
        let (prepared, receipts) = loop {
            let mut violations = Violations::new();
            let prepared = self
                .prepare_with(caller, &common, &mut violations, versions)
                .await?;
            violations.into_result()?;
            let read = if prepared.scope.periods.is_empty() || prepared.organs.is_empty() {
                Receipts {
                    versions: self.store.catalogue_versions(&query.form_code).await?,
                    receipts: Vec::new(),
                }
            } else {
                self.store.report_receipts(&prepared.scope).await?
            };
            self.catalogue()
                .seen_versions
                .insert(query.form_code.clone(), read.versions);
            if read.versions == versions {
                break (prepared, read.receipts);
            }
            versions = read.versions;
        };
        let Prepared {
            version,
            scope,
            organs,
            ..
        } = prepared;
        let definition = &version.definition;

        let locality_of: HashMap<&str, &str> = organs
            .iter()
            .map(|organ| (organ.id.as_str(), organ.locality_code.as_str()))
            .collect();
        let mut counts: HashMap<(&str, Period), ReceiptCounts> = HashMap::new();
        for receipt in &receipts {
            // Only the organs expected count, so submitted never exceeds expected.
            if let Some(locality_code) = locality_of.get(receipt.organ_id.as_str()) {
                counts
                    .entry((locality_code, receipt.period))
                    .or_default()
                    .add(receipt);
            }
        }
        let mut organs_per_locality: BTreeMap<&str, u32> = BTreeMap::new();
        for organ in &organs {
            *organs_per_locality
                .entry(organ.locality_code.as_str())
                .or_default() += 1;
        }

        let now = (self.clock)();
        let mut rates = Vec::new();
        let mut city_trend = Vec::new();
        for period in &scope.periods {
            let deadline = period.deadline(definition.window_rule, definition.deadline_days_after_cutoff);
            let mut city = ReportingRate {
                period: *period,
                locality_code: None,
                deadline,
                deadline_passed: now > deadline,
                expected: 0,
                submitted: 0,
                on_time: 0,
                accepted: 0,
            };
            for (locality_code, expected) in &organs_per_locality {
                let count = counts
                    .get(&(*locality_code, *period))
                    .copied()
                    .unwrap_or_default();
                let rate = ReportingRate {
                    locality_code: Some((*locality_code).to_owned()),
                    expected: *expected,
                    submitted: count.submitted,
                    on_time: count.on_time,
                    accepted: count.accepted,
                    ..city.clone()
                };
                city.expected += rate.expected;
                city.submitted += rate.submitted;
                city.on_time += rate.on_time;
                city.accepted += rate.accepted;
                rates.push(rate);
            }
            city_trend.push(city);
        }
        Ok(ReportingRates {
            form_code: version.form_code.clone(),
            rates: page_of(rates, page)?,
            city_trend,
        })
    }

    /// Values outside their bounds or far from their organ's history, most
    /// unusual first.
    pub async fn outliers(
        &self,
        caller: &Principal,
        query: &OutliersQuery,
        page: &PageRequest,
    ) -> Result<Page<Outlier>> {
        let mut violations = Violations::new();
        let Prepared {
            version,
            range,
            mut scope,
            organs,
        } = self.prepare(caller, &common_of!(query), &mut violations).await?;
        let indicators = select_indicators(
            &version,
            &query.indicator_codes,
            Purpose::Outliers,
            &mut violations,
        );
        let lookback = defaulted(
            query.lookback_periods,
            DEFAULT_LOOKBACK_PERIODS,
            HISTORY_LIMITS,
            "lookback_periods",
            &mut violations,
        );
        let min_history = defaulted(
            query.min_history,
            DEFAULT_MIN_HISTORY,
            MIN_HISTORY_LIMITS,
            "min_history",
            &mut violations,
        );
        if min_history > lookback {
            violations.add(
                "min_history",
                format!("{min_history} earlier values cannot fit in {lookback} lookback periods"),
            );
        }
        let threshold = query.z_score_threshold;
        let threshold = if threshold == 0.0 {
            DEFAULT_Z_SCORE_THRESHOLD
        } else if threshold.is_finite() && threshold > 0.0 {
            threshold
        } else {
            violations.add("z_score_threshold", "a positive number, or 0 for 3.5");
            DEFAULT_Z_SCORE_THRESHOLD
        };
        violations.into_result()?;
        let Some((from, to)) = range else {
            return Err(Error::internal("a range without violations must have parsed"));
        };
        if organs.is_empty() {
            return page_of(Vec::new(), page);
        }

        // The values checked and, before them, their history.
        let mut start = from;
        for _ in 0..lookback {
            start = start.previous();
        }
        scope.periods = start.through(to).collect();
        let codes: Vec<String> = indicators
            .iter()
            .map(|indicator| indicator.code.clone())
            .collect();
        let values = self.store.reported_values(&scope, &codes).await?;

        let mut outliers = Vec::new();
        let mut series_start = 0;
        while series_start < values.len() {
            let first = &values[series_start];
            let series_end = values[series_start..]
                .iter()
                .position(|value| {
                    value.organ_id != first.organ_id || value.indicator_code != first.indicator_code
                })
                .map_or(values.len(), |length| series_start + length);
            let series = &values[series_start..series_end];
            series_start = series_end;
            let Some(indicator) = indicators
                .iter()
                .find(|indicator| indicator.code == first.indicator_code)
            else {
                continue;
            };
            for (position, point) in series.iter().enumerate() {
                if point.period < from || point.period > to {
                    continue;
                }
                let mut history_start = point.period;
                for _ in 0..lookback {
                    history_start = history_start.previous();
                }
                let history: Vec<f64> = series[..position]
                    .iter()
                    .filter(|earlier| earlier.period >= history_start)
                    .map(|earlier| earlier.value)
                    .collect();
                if let Some(outlier) = judge(point, indicator, &history, min_history, threshold) {
                    outliers.push(outlier);
                }
            }
        }
        let position_of = |code: &str| {
            version
                .definition
                .indicators
                .iter()
                .position(|indicator| indicator.code == code)
        };
        outliers.sort_by(|left, right| {
            right
                .breaks_bounds()
                .cmp(&left.breaks_bounds())
                .then_with(|| right.unusualness().total_cmp(&left.unusualness()))
                .then_with(|| left.report_id.cmp(&right.report_id))
                .then_with(|| position_of(&left.indicator_code).cmp(&position_of(&right.indicator_code)))
        });
        page_of(outliers, page)
    }

    /// Loads the form, decides how far the caller reaches, and checks the
    /// range and filters. Violations are collected; a missing form or a
    /// refusal returns at once.
    async fn prepare(
        &self,
        caller: &Principal,
        common: &Common<'_>,
        violations: &mut Violations,
    ) -> Result<Prepared> {
        require_form_code(common.form_code)?;
        let versions = self.store.catalogue_versions(common.form_code).await?;
        self.prepare_with(caller, common, violations, versions).await
    }

    /// [`prepare`](Self::prepare) under catalogue versions already known.
    async fn prepare_with(
        &self,
        caller: &Principal,
        common: &Common<'_>,
        violations: &mut Violations,
        versions: CatalogueVersions,
    ) -> Result<Prepared> {
        let version = self.form_version(common, versions.latest_form_version).await?;
        let definition = &version.definition;
        let reach = reach(caller, &version)?;
        if let Reach::OwnOrgan(organ) = &reach {
            if common
                .locality_codes
                .iter()
                .any(|code| *code != organ.locality_code)
            {
                return Err(Error::PermissionDenied(format!(
                    "{} reads only its own organ's figures, in locality {}",
                    caller.describe(),
                    organ.locality_code
                )));
            }
            if !common.blocs.is_empty() && !common.blocs.contains(&organ.bloc) {
                return Err(Error::PermissionDenied(format!(
                    "{} reads only its own organ's figures, of bloc {}",
                    caller.describe(),
                    organ.bloc.as_str()
                )));
            }
        }
        let range = parse_range(definition, common.from_period, common.to_period, violations);

        let reporting = self
            .reporting_organs(&definition.reporting_organ_kinds, versions.directory_version)
            .await?;
        for (index, code) in common.locality_codes.iter().enumerate() {
            let field = format!("locality_codes[{index}]");
            if !is_locality_code(code) {
                violations.add(field, format!("{code:?} is not a 5-digit commune or ward code"));
            } else if common.locality_codes[..index].contains(code) {
                violations.add(field, format!("{code} is given twice"));
            } else if !reporting.iter().any(|organ| organ.locality_code == *code) {
                violations.add(
                    field,
                    format!(
                        "no commune or ward {code} has organs that report form {}",
                        version.form_code
                    ),
                );
            }
        }

        let today = vietnam_date((self.clock)());
        let periods: Vec<Period> = match range {
            Some((from, to)) => periods_started_by(definition, today)
                .into_iter()
                .filter(|period| from <= *period && *period <= to)
                .collect(),
            None => Vec::new(),
        };
        let scope = ReportScope {
            form_code: version.form_code.clone(),
            periods,
            organ_kinds: definition.reporting_organ_kinds.clone(),
            locality_codes: common.locality_codes.to_vec(),
            blocs: common.blocs.to_vec(),
            organ_id: match &reach {
                Reach::City => None,
                Reach::OwnOrgan(organ) => Some(organ.id.clone()),
            },
            selection: common.selection,
        };
        let organs = reporting
            .iter()
            .filter(|organ| scope.includes(organ))
            .cloned()
            .collect();
        Ok(Prepared {
            version,
            range,
            scope,
            organs,
        })
    }
}

impl AnalyticsService {
    /// The published version asked for (0: the latest), from memory when
    /// read before: a published version never changes.
    async fn form_version(&self, common: &Common<'_>, latest: Option<u32>) -> Result<Arc<FormVersion>> {
        let number = match (common.form_version, latest) {
            (0, Some(latest)) if latest > 0 => latest,
            (0, _) | (_, None) => {
                // No such form or none published: the usual lookup says which.
                let version =
                    published_version(self.store.as_ref(), common.form_code, common.form_version).await?;
                return Ok(Arc::new(version));
            }
            (asked, Some(_)) => asked,
        };
        let key = (common.form_code.to_owned(), number);
        if let Some(version) = self.catalogue().versions.get(&key) {
            return Ok(Arc::clone(version));
        }
        let version = Arc::new(published_version(self.store.as_ref(), common.form_code, number).await?);
        self.catalogue().versions.insert(key, Arc::clone(&version));
        Ok(version)
    }

    /// The organs of `kinds` in communes and wards as of `directory_version`.
    async fn reporting_organs(&self, kinds: &[OrganKind], directory_version: i64) -> Result<Arc<Vec<Organ>>> {
        {
            let mut catalogue = self.catalogue();
            if catalogue.directory_version != directory_version {
                catalogue.directory_version = directory_version;
                catalogue.reporting_organs.clear();
            } else if let Some(organs) = catalogue.reporting_organs.get(kinds) {
                return Ok(Arc::clone(organs));
            }
        }
        let organs = Arc::new(self.store.reporting_organs(kinds).await?);
        let mut catalogue = self.catalogue();
        // Read after the version: if the directory changed meanwhile, the
        // next request sees a newer version and reads again.
        if catalogue.directory_version == directory_version {
            catalogue
                .reporting_organs
                .insert(kinds.to_vec(), Arc::clone(&organs));
        }
        Ok(organs)
    }

    fn catalogue(&self) -> std::sync::MutexGuard<'_, Catalogue> {
        // The catalogue holds only copies of stored rows: one left half
        // updated by a panic is still consistent.
        self.catalogue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn require_form_code(form_code: &str) -> Result<()> {
    if form_code.is_empty() {
        return Err(Error::invalid("form_code", "name the form"));
    }
    Ok(())
}

/// ANALYST and ADMIN read every form city-wide and a REVIEWER the forms its
/// department owns; otherwise a SUBMITTER reads its own organ's figures.
fn reach(caller: &Principal, version: &FormVersion) -> Result<Reach> {
    let owner = &version.definition.owner_organ;
    if caller.reads_everything() || caller.reviews_for(owner) {
        Ok(Reach::City)
    } else if caller.has(Role::Submitter) {
        Ok(Reach::OwnOrgan(caller.organ.clone()))
    } else {
        Err(Error::PermissionDenied(format!(
            "{} may not read analytics of form {}; its reviewer {owner}, analysts and admins read them \
             city-wide, submitters their own organ's",
            caller.describe(),
            version.form_code
        )))
    }
}

/// Parses a bounded range of the form's periods.
fn parse_range(
    definition: &FormDefinition,
    from_text: &str,
    to_text: &str,
    violations: &mut Violations,
) -> Option<(Period, Period)> {
    if definition.periodicity == Periodicity::AdHoc {
        violations.add("form_code", "an ad-hoc form has no periods to analyse");
        return None;
    }
    parse_period_range(from_text, to_text, Some(definition), violations)
}

/// Parses a range of periods: both ends required, of one kind (the form's,
/// when one is given), in order, at most [`MAX_RANGE_PERIODS`] long.
pub(super) fn parse_period_range(
    from_text: &str,
    to_text: &str,
    form: Option<&FormDefinition>,
    violations: &mut Violations,
) -> Option<(Period, Period)> {
    let mut bound = |field: &str, text: &str, which: &str| {
        if text.is_empty() {
            violations.add(field, format!("required: the range needs its {which} period"));
            return None;
        }
        match form {
            Some(definition) => parse_period_field(definition, field, text, violations),
            None => match text.parse::<Period>() {
                Ok(period) => Some(period),
                Err(problem) => {
                    violations.add(field, problem.to_string());
                    None
                }
            },
        }
    };
    let from = bound("from_period", from_text, "first");
    let to = bound("to_period", to_text, "last");
    let (from, to) = (from?, to?);
    if from.periodicity() != to.periodicity() {
        violations.add(
            "to_period",
            format!("{to} is not of the same kind of period as {from}"),
        );
        return None;
    }
    if to < from {
        violations.add("to_period", format!("{to} is before from_period {from}"));
        return None;
    }
    if from.through(to).nth(MAX_RANGE_PERIODS).is_some() {
        violations.add(
            "to_period",
            format!("a range spans at most {MAX_RANGE_PERIODS} periods"),
        );
        return None;
    }
    Some((from, to))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Aggregate,
    Outliers,
}

/// The indicators asked for, or by default every one fit for `purpose`.
fn select_indicators<'v>(
    version: &'v FormVersion,
    codes: &[String],
    purpose: Purpose,
    violations: &mut Violations,
) -> Vec<&'v Indicator> {
    let definition = &version.definition;
    let unfit = |indicator: &Indicator| match purpose {
        Purpose::Aggregate => not_aggregatable(indicator),
        Purpose::Outliers => (!indicator.value_type.is_numeric()).then(|| {
            format!(
                "{} is {}; only numeric values are checked",
                indicator.code,
                indicator.value_type.as_str()
            )
        }),
    };
    if codes.is_empty() {
        let fit: Vec<&Indicator> = definition
            .indicators
            .iter()
            .filter(|indicator| unfit(indicator).is_none())
            .collect();
        if fit.is_empty() {
            violations.add(
                "indicator_codes",
                format!(
                    "form {} has no indicator that can be used here",
                    version.form_code
                ),
            );
        }
        return fit;
    }
    let mut selected = Vec::with_capacity(codes.len());
    for (index, code) in codes.iter().enumerate() {
        let field = format!("indicator_codes[{index}]");
        match definition.indicator(code) {
            None => violations.add(
                field,
                format!(
                    "unknown indicator {code:?} in form {} version {}",
                    version.form_code, version.version
                ),
            ),
            Some(_) if codes[..index].contains(code) => {
                violations.add(field, format!("{code} is given twice"));
            }
            Some(indicator) => match unfit(indicator) {
                Some(reason) => violations.add(field, reason),
                None => selected.push(indicator),
            },
        }
    }
    selected
}

fn grouping_of(dimensions: &[GroupDimension], violations: &mut Violations) -> Grouping {
    let mut grouping = Grouping::default();
    for (index, dimension) in dimensions.iter().enumerate() {
        let field = format!("group_by[{index}]");
        if dimensions[..index].contains(dimension) {
            violations.add(field, format!("{} is given twice", dimension.as_str()));
            continue;
        }
        match dimension {
            GroupDimension::Locality => grouping.locality = true,
            GroupDimension::Bloc => grouping.bloc = true,
            GroupDimension::Period => grouping.period = true,
            GroupDimension::City if dimensions.len() > 1 => {
                violations.add(field, "CITY means no split; it cannot go with other dimensions");
            }
            GroupDimension::City => {}
        }
    }
    grouping
}

/// Checks a roll-up: it needs period grouping, a periodicity the form's
/// rolls up into, and a range of whole roll-up periods. `None` means the
/// form's own periods.
fn check_rollup(
    definition: &FormDefinition,
    rollup: Option<Periodicity>,
    grouping: Grouping,
    range: Option<(Period, Period)>,
    violations: &mut Violations,
) -> Option<Periodicity> {
    let target = rollup.filter(|target| *target != definition.periodicity)?;
    if !grouping.period {
        violations.add("rollup", "a roll-up needs PERIOD in group_by");
        return None;
    }
    if !rolls_up(definition.periodicity, target) {
        violations.add(
            "rollup",
            format!(
                "{:?} periods do not roll up into {target:?} periods",
                definition.periodicity
            ),
        );
        return None;
    }
    if let Some((from, to)) = range {
        let bucket = |period: Period| rollup_period(period, target);
        match bucket(from) {
            None => violations.add("from_period", format!("{from} is in no {target:?} period")),
            Some(first) if from.previous() != from && bucket(from.previous()) == Some(first) => violations
                .add(
                    "from_period",
                    format!("{from} does not start {first}; roll-ups cover whole {target:?} periods"),
                ),
            Some(_) => {}
        }
        match bucket(to) {
            None => violations.add("to_period", format!("{to} is in no {target:?} period")),
            Some(last) if to.next() != to && bucket(to.next()) == Some(last) => violations.add(
                "to_period",
                format!("{to} does not end {last}; roll-ups cover whole {target:?} periods"),
            ),
            Some(_) => {}
        }
    }
    Some(target)
}

/// The period a source period's figures are grouped under: itself, or the
/// roll-up period containing it.
fn bucket_of(period: Period, rollup: Option<Periodicity>) -> Option<Period> {
    match rollup {
        None => Some(period),
        Some(target) => rollup_period(period, target),
    }
}

/// `value`, or `default` for 0; out of `limits` is a violation.
fn defaulted(
    value: u32,
    default: u32,
    limits: std::ops::RangeInclusive<u32>,
    field: &str,
    violations: &mut Violations,
) -> u32 {
    match value {
        0 => default,
        value if limits.contains(&value) => value,
        value => {
            violations.add(
                field,
                format!(
                    "{value} is out of range: {} to {}, or 0 for {default}",
                    limits.start(),
                    limits.end()
                ),
            );
            default
        }
    }
}

/// Whether one value is an outlier, and why.
fn judge(
    point: &ReportedValue,
    indicator: &Indicator,
    history: &[f64],
    min_history: u32,
    threshold: f64,
) -> Option<Outlier> {
    let mut reasons = Vec::new();
    let mut explanations = Vec::new();
    if let Some(min) = indicator.min.and_then(|min| min.to_f64())
        && point.value < min
    {
        reasons.push(OutlierReason::BelowMinimum);
        explanations.push(format!("below the minimum {min}"));
    }
    if let Some(max) = indicator.max.and_then(|max| max.to_f64())
        && point.value > max
    {
        reasons.push(OutlierReason::AboveMaximum);
        explanations.push(format!("above the maximum {max}"));
    }
    let history_size = u32::try_from(history.len()).unwrap_or(u32::MAX);
    let score = (history_size >= min_history)
        .then(|| modified_z_score(point.value, history))
        .flatten();
    if let Some(score) = score
        && score.score.abs() >= threshold
    {
        reasons.push(OutlierReason::FarFromHistory);
        explanations.push(format!(
            "modified z-score {:.1} against {history_size} earlier values (median {})",
            score.score, score.median
        ));
    }
    (!reasons.is_empty()).then(|| Outlier {
        report_id: point.report_id,
        revision: point.revision,
        organ_id: point.organ_id.clone(),
        locality_code: point.locality_code.clone(),
        period: point.period,
        indicator_code: point.indicator_code.clone(),
        value: point.value,
        reasons,
        history: score,
        history_size,
        explanation: explanations.join("; "),
    })
}

/// One page of a computed list; the token is a position in it.
fn page_of<T>(items: Vec<T>, page: &PageRequest) -> Result<Page<T>> {
    let start = match page.after.as_deref() {
        None => 0,
        Some(position) => position
            .parse::<usize>()
            .map_err(|_| Error::invalid("page_token", "not a token returned by this list call"))?,
    };
    let fetched: Vec<(usize, T)> = items
        .into_iter()
        .enumerate()
        .skip(start)
        .take(page.fetch_limit() as usize)
        .collect();
    Ok(Page::from_fetched(fetched, page, |(position, _)| (position + 1).to_string()).map(|(_, item)| item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::tests::sample_definition;

    fn month(year: i32, month: u8) -> Period {
        Period::Month { year, month }
    }

    fn fields(violations: Violations) -> Vec<String> {
        match violations.into_result() {
            Ok(()) => Vec::new(),
            Err(Error::InvalidArgument(list)) => list.into_iter().map(|violation| violation.field).collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ranges_must_be_bounded_ordered_and_of_the_form_periodicity() {
        let definition = sample_definition();
        let mut violations = Violations::new();
        assert_eq!(
            parse_range(&definition, "2025-01", "2025-03", &mut violations),
            Some((month(2025, 1), month(2025, 3)))
        );
        assert!(violations.is_empty());

        let mut violations = Violations::new();
        assert_eq!(parse_range(&definition, "", "2025-Q1", &mut violations), None);
        assert_eq!(fields(violations), ["from_period", "to_period"]);

        let mut violations = Violations::new();
        assert_eq!(
            parse_range(&definition, "2025-05", "2025-02", &mut violations),
            None
        );
        assert_eq!(fields(violations), ["to_period"]);

        let mut violations = Violations::new();
        assert_eq!(
            parse_range(&definition, "1950-01", "2025-02", &mut violations),
            None
        );
        assert_eq!(fields(violations), ["to_period"]);
    }

    #[test]
    fn rollups_need_period_grouping_and_whole_periods() {
        let definition = sample_definition();
        let by_period = Grouping {
            period: true,
            ..Grouping::default()
        };
        let range = |from: Period, to: Period| Some((from, to));
        let mut violations = Violations::new();
        assert_eq!(
            check_rollup(
                &definition,
                Some(Periodicity::Quarterly),
                by_period,
                range(month(2025, 1), month(2025, 6)),
                &mut violations
            ),
            Some(Periodicity::Quarterly)
        );
        assert!(violations.is_empty());

        let mut violations = Violations::new();
        check_rollup(
            &definition,
            Some(Periodicity::Quarterly),
            by_period,
            range(month(2025, 2), month(2025, 5)),
            &mut violations,
        );
        assert_eq!(fields(violations), ["from_period", "to_period"]);

        let mut violations = Violations::new();
        check_rollup(
            &definition,
            Some(Periodicity::Annual),
            Grouping::default(),
            range(month(2025, 1), month(2025, 12)),
            &mut violations,
        );
        assert_eq!(fields(violations), ["rollup"]);

        // The form's own periodicity is no roll-up at all.
        let mut violations = Violations::new();
        assert_eq!(
            check_rollup(
                &definition,
                Some(Periodicity::Monthly),
                Grouping::default(),
                range(month(2025, 2), month(2025, 2)),
                &mut violations
            ),
            None
        );
        assert!(violations.is_empty());
    }

    /// A plan of the sample form over `months` of 2025 for two communes,
    /// each with a Party committee and a People's Committee, grouped by
    /// period and locality and rolled up to `rollup`.
    fn plan_over(months: std::ops::RangeInclusive<u8>, rollup: Option<Periodicity>) -> AggregatePlan {
        let definition = sample_definition();
        let indicators = definition.indicators.clone();
        let grouping = Grouping {
            period: true,
            locality: true,
            bloc: false,
        };
        let organs: Vec<Organ> = ["00004", "00008"]
            .into_iter()
            .flat_map(|locality| {
                [
                    (OrganKind::PartyCommittee, Bloc::Party),
                    (OrganKind::PeoplesCommittee, Bloc::Government),
                ]
                .map(|(kind, bloc)| Organ {
                    id: format!("{locality}-{}", kind.as_str().to_lowercase()),
                    name: format!("{locality} {}", kind.as_str()),
                    kind,
                    bloc,
                    locality_code: locality.to_owned(),
                })
            })
            .collect();
        let buckets: Vec<(Period, Period)> = months
            .map(|number| {
                let period = month(2025, number);
                (period, bucket_of(period, rollup).expect("in a bucket"))
            })
            .collect();
        let expected = expected_reports(&organs, &buckets, grouping);
        AggregatePlan {
            version: Arc::new(FormVersion {
                form_code: "sample".to_owned(),
                version: 1,
                definition,
                published_at: OffsetDateTime::UNIX_EPOCH,
            }),
            indicators,
            grouping,
            scope: ReportScope {
                form_code: "sample".to_owned(),
                periods: buckets.iter().map(|(period, _)| *period).collect(),
                organ_kinds: vec![OrganKind::PartyCommittee, OrganKind::PeoplesCommittee],
                locality_codes: Vec::new(),
                blocs: Vec::new(),
                organ_id: None,
                selection: ReportSelection::LatestRevision,
            },
            organs,
            buckets,
            expected,
            not_yet_open: BTreeMap::new(),
        }
    }

    #[test]
    fn parts_of_a_plan_are_whole_group_periods_in_row_order() {
        for rollup in [None, Some(Periodicity::Quarterly)] {
            let whole = plan_over(1..=12, rollup);
            let rows_per_bucket = 2 * whole.indicators.len();
            let buckets = if rollup.is_some() { 4 } else { 12 };
            assert_eq!(whole.row_count(), buckets * rows_per_bucket);

            // Room for two and a half group periods: two per part.
            let parts = whole.clone().into_parts(rows_per_bucket * 5 / 2);
            assert_eq!(parts.len(), buckets / 2, "{rollup:?}");
            let mut keys = Vec::new();
            let mut periods = Vec::new();
            for part in &parts {
                assert_eq!(part.row_count(), 2 * rows_per_bucket);
                // A part reads exactly the periods its groups count.
                let read: Vec<Period> = part.buckets.iter().map(|(period, _)| *period).collect();
                assert_eq!(part.scope.periods, read);
                assert!(
                    part.buckets
                        .iter()
                        .all(|(_, bucket)| { part.expected.keys().any(|key| key.period == Some(*bucket)) })
                );
                keys.extend(part.expected.clone());
                periods.extend(read);
            }
            assert_eq!(keys, whole.expected.clone().into_iter().collect::<Vec<_>>());
            assert_eq!(periods, whole.scope.periods);

            // A part never splits a group period, however small it is asked to be.
            assert_eq!(whole.clone().into_parts(1).len(), buckets);
            assert_eq!(whole.clone().into_parts(whole.row_count()).len(), 1);
        }
    }

    #[test]
    fn a_plan_without_period_groups_stays_whole() {
        let mut plan = plan_over(1..=12, None);
        plan.grouping.period = false;
        plan.expected = plan
            .expected
            .into_iter()
            .fold(BTreeMap::new(), |mut merged, (key, expected)| {
                *merged.entry(key.with_period(None)).or_default() += expected;
                merged
            });
        assert_eq!(plan.into_parts(1).len(), 1);
    }

    #[test]
    fn city_stands_alone_and_dimensions_appear_once() {
        let mut violations = Violations::new();
        let grouping = grouping_of(
            &[GroupDimension::Period, GroupDimension::Locality],
            &mut violations,
        );
        assert!(grouping.period && grouping.locality && !grouping.bloc);
        assert!(violations.is_empty());
        let mut violations = Violations::new();
        grouping_of(
            &[GroupDimension::Bloc, GroupDimension::City, GroupDimension::Bloc],
            &mut violations,
        );
        assert_eq!(fields(violations), ["group_by[1]", "group_by[2]"]);
    }

    #[test]
    fn indicators_are_checked_one_by_one() {
        let mut definition = sample_definition();
        definition.indicators.push(Indicator {
            code: "note".to_owned(),
            value_type: crate::form::ValueType::Text,
            aggregation: Aggregation::Last,
            min: None,
            ..definition.indicators[0].clone()
        });
        let version = FormVersion {
            form_code: "tthc".to_owned(),
            version: 1,
            definition,
            published_at: OffsetDateTime::UNIX_EPOCH,
        };
        let mut violations = Violations::new();
        let all = select_indicators(&version, &[], Purpose::Aggregate, &mut violations);
        let codes: Vec<&str> = all.iter().map(|indicator| indicator.code.as_str()).collect();
        assert_eq!(codes, ["dossiers_received", "dossiers_online", "online_rate"]);
        let asked = ["online_rate", "nope", "note", "online_rate"].map(str::to_owned);
        let mut violations = Violations::new();
        let selected = select_indicators(&version, &asked, Purpose::Aggregate, &mut violations);
        assert_eq!(selected.len(), 1);
        assert_eq!(
            fields(violations),
            ["indicator_codes[1]", "indicator_codes[2]", "indicator_codes[3]"]
        );
    }

    #[test]
    fn a_value_is_judged_by_its_bounds_and_its_history() {
        let indicator = &sample_definition().indicators[2]; // online_rate, 0 to 100
        let point = |value: f64| ReportedValue {
            report_id: 1,
            revision: 1,
            organ_id: "00004-peoples-committee".to_owned(),
            locality_code: "00004".to_owned(),
            period: month(2025, 9),
            indicator_code: indicator.code.clone(),
            value,
        };
        let history = [14.0, 15.0, 13.0, 14.0, 16.0, 14.0];
        assert_eq!(judge(&point(14.5), indicator, &history, 6, 3.5), None);
        let far = judge(&point(60.0), indicator, &history, 6, 3.5).expect("far from history");
        assert_eq!(far.reasons, [OutlierReason::FarFromHistory]);
        assert!(far.explanation.contains("median 14"), "{}", far.explanation);
        // Too little history: only the bounds are checked.
        assert_eq!(judge(&point(60.0), indicator, &history[..3], 6, 3.5), None);
        let above = judge(&point(150.0), indicator, &history[..3], 6, 3.5).expect("above the maximum");
        assert_eq!(above.reasons, [OutlierReason::AboveMaximum]);
        assert_eq!(above.history, None);
        assert_eq!(above.history_size, 3);
        // A higher threshold lets the value through.
        assert_eq!(judge(&point(60.0), indicator, &history, 6, 1_000.0), None);
    }

    #[test]
    fn rates_are_shares_of_what_is_expected() {
        let rate = ReportingRate {
            period: month(2025, 9),
            locality_code: None,
            deadline: OffsetDateTime::UNIX_EPOCH,
            deadline_passed: true,
            expected: 4,
            submitted: 3,
            on_time: 1,
            accepted: 0,
        };
        assert_eq!(rate.reporting_rate(), Some(75.0));
        assert_eq!(rate.on_time_rate(), Some(25.0));
        assert_eq!(rate.late(), 2);
        let nothing_owed = ReportingRate { expected: 0, ..rate };
        assert_eq!(nothing_owed.reporting_rate(), None);
    }
}
