//! Analytics over reports: the store port for roll-ups, and the pure parts
//! of aggregation — how reports add up under each indicator's rule, how
//! periods roll up into longer ones, and the modified z-score that judges a
//! value against its organ's history.
//!
//! The store returns one row per report with the figures of its latest
//! revision (one statement, whatever the number of groups); [`Tally`] adds
//! them up here, group by group, so each rule is applied in one place and
//! the same way on both backends.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::directory::{Bloc, Organ, OrganKind};
use crate::error::Result;
use crate::form::{Aggregation, Indicator, ValueType};
use crate::period::{Period, Periodicity};

/// Which reports figures come from. Either way a report counts with its
/// latest revision: an accepted report cannot be amended, so its latest
/// revision is the accepted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportSelection {
    #[default]
    LatestRevision,
    AcceptedOnly,
}

/// The reports a query reads: one form, some periods, and the organs that
/// owe the form narrowed by the request's filters. The store applies
/// exactly these conditions (but for [`AnalyticsStore::report_receipts`],
/// whose caller applies the organ filters), and [`ReportScope::includes`]
/// applies them to the expected organs, so contributing reports are always
/// a subset of the expected ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    pub form_code: String,
    /// The periods read; never empty when handed to the store.
    pub periods: Vec<Period>,
    /// Kinds of organ that owe the form (organs in communes and wards only).
    pub organ_kinds: Vec<OrganKind>,
    /// Only organs in these localities; empty means all.
    pub locality_codes: Vec<String>,
    /// Only organs of these blocs; empty means all.
    pub blocs: Vec<Bloc>,
    /// Only this organ (a submitter's own figures).
    pub organ_id: Option<String>,
    pub selection: ReportSelection,
}

impl ReportScope {
    /// Whether an organ that owes the form falls within the filters.
    pub fn includes(&self, organ: &Organ) -> bool {
        self.organ_kinds.contains(&organ.kind)
            && (self.locality_codes.is_empty() || self.locality_codes.contains(&organ.locality_code))
            && (self.blocs.is_empty() || self.blocs.contains(&organ.bloc))
            && self.organ_id.as_ref().is_none_or(|id| *id == organ.id)
    }
}

/// Which dimensions split the groups; none means one group for the city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Grouping {
    pub locality: bool,
    pub bloc: bool,
    pub period: bool,
}

/// The identity of a group: the value of each dimension grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub period: Option<Period>,
    pub locality_code: Option<String>,
    pub bloc: Option<Bloc>,
}

impl GroupKey {
    /// The group of an organ's report for `period` (already rolled up).
    pub fn of(grouping: Grouping, organ: &Organ, period: Period) -> GroupKey {
        GroupKey {
            period: grouping.period.then_some(period),
            locality_code: grouping.locality.then(|| organ.locality_code.clone()),
            bloc: grouping.bloc.then_some(organ.bloc),
        }
    }

    /// The same group with its period replaced.
    pub fn with_period(mut self, period: Option<Period>) -> GroupKey {
        self.period = period;
        self
    }
}

impl Ord for GroupKey {
    /// Period first (chronologically), then locality code, then bloc in
    /// [`Bloc::ALL`] order.
    fn cmp(&self, other: &Self) -> Ordering {
        let bloc_rank = |bloc: Option<Bloc>| bloc.and_then(|bloc| Bloc::ALL.iter().position(|b| *b == bloc));
        self.period
            .cmp(&other.period)
            .then_with(|| self.locality_code.cmp(&other.locality_code))
            .then_with(|| bloc_rank(self.bloc).cmp(&bloc_rank(other.bloc)))
    }
}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One report in scope: its organ, its period and the numeric values of
/// its latest revision for the indicators asked, in the order asked (`None`
/// where the revision has none).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFigures {
    pub organ_id: String,
    pub period: Period,
    pub values: Vec<Option<f64>>,
}

/// What a request checks before using what it keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueVersions {
    /// The form's latest published version: `None` for no such form, 0 if
    /// never published.
    pub latest_form_version: Option<u32>,
    /// Changes whenever an organ or a locality does.
    pub directory_version: i64,
}

/// [`AnalyticsStore::report_receipts`]: the receipts and the versions they
/// were read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipts {
    pub versions: CatalogueVersions,
    pub receipts: Vec<ReportReceipt>,
}

/// A report as the reporting rates count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReceipt {
    pub organ_id: String,
    pub period: Period,
    pub on_time: bool,
    pub accepted: bool,
}

/// One numeric value of a report's latest revision.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedValue {
    pub report_id: i64,
    pub revision: u32,
    pub organ_id: String,
    pub locality_code: String,
    pub period: Period,
    pub indicator_code: String,
    pub value: f64,
}

/// The queries behind the analytics use cases. Each is one statement,
/// whatever the number of groups.
#[async_trait]
pub trait AnalyticsStore: Send + Sync + std::fmt::Debug + 'static {
    /// The form's latest published version and the directory's version,
    /// read together.
    async fn catalogue_versions(&self, form_code: &str) -> Result<CatalogueVersions>;
    /// Every report in scope with its latest revision's values of
    /// `indicator_codes`, in no particular order.
    async fn report_figures(
        &self,
        scope: &ReportScope,
        indicator_codes: &[String],
    ) -> Result<Vec<ReportFigures>>;
    /// Every report of the form and periods in scope (and of its organ, when
    /// it names one), in no particular order, with the catalogue versions
    /// read in the same statement: a caller that planned the scope on
    /// versions it remembered learns, without a round trip of its own,
    /// whether they still hold. The other organ filters are the caller's to
    /// apply: it knows the organs that owe the form.
    async fn report_receipts(&self, scope: &ReportScope) -> Result<Receipts>;
    /// Every numeric value of the indicators in scope, ordered by organ,
    /// indicator and period.
    async fn reported_values(
        &self,
        scope: &ReportScope,
        indicator_codes: &[String],
    ) -> Result<Vec<ReportedValue>>;
}

/// Count, sum, min and max of some values; merging two is exact for each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Partial {
    pub fn of(value: f64) -> Partial {
        Partial {
            count: 1,
            sum: value,
            min: value,
            max: value,
        }
    }

    pub fn merge(&mut self, other: &Partial) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Summed numerator and denominator, and how many reports carried both.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RatioParts {
    pub reports: u64,
    pub numerator: f64,
    pub denominator: f64,
}

impl RatioParts {
    pub fn merge(&mut self, other: &RatioParts) {
        self.reports += other.reports;
        self.numerator += other.numerator;
        self.denominator += other.denominator;
    }

    /// 100 × numerator / denominator; `None` without reports or when the
    /// denominators add up to zero.
    pub fn percentage(&self) -> Option<f64> {
        (self.reports > 0 && self.denominator != 0.0).then(|| 100.0 * self.numerator / self.denominator)
    }
}

/// What the store returned for one indicator in one group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Gathered {
    pub values: Option<Partial>,
    /// LAST only: the sum of each organ's latest value.
    pub latest_sum: Option<f64>,
    /// RATIO only.
    pub ratio: Option<RatioParts>,
}

impl Gathered {
    /// The aggregate under `rule`; `None` when nothing contributed.
    pub fn value(&self, rule: Aggregation) -> Option<f64> {
        let values = self.values.filter(|values| values.count > 0);
        match rule {
            Aggregation::Sum => values.map(|values| values.sum),
            Aggregation::Avg => values.map(|values| values.sum / values.count as f64),
            Aggregation::Min => values.map(|values| values.min),
            Aggregation::Max => values.map(|values| values.max),
            Aggregation::Last => values.and(self.latest_sum),
            Aggregation::Ratio => self.ratio.and_then(|ratio| ratio.percentage()),
        }
    }

    /// How many reports went into [`Gathered::value`].
    pub fn contributing(&self, rule: Aggregation) -> u64 {
        match rule {
            Aggregation::Ratio => self.ratio.map_or(0, |ratio| ratio.reports),
            _ => self.values.map_or(0, |values| values.count),
        }
    }
}

/// Where an indicator's figures are in [`ReportFigures::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its own values, in this column.
    Values(usize),
    /// RATIO: the columns of its numerator and denominator.
    Ratio { numerator: usize, denominator: usize },
}

/// Reports added up into groups, each indicator by its rule.
#[derive(Debug)]
pub struct Tally {
    sources: Vec<(Aggregation, Source)>,
    /// Group-major: `group × indicators + indicator`.
    cells: Vec<Gathered>,
    /// LAST, when a group may hold several periods of one organ: per
    /// (organ, group, indicator), its latest period with a value and that
    /// value. Ordered, so the sums are added in the same order every time.
    latest: Option<BTreeMap<LatestKey, (Period, f64)>>,
}

/// (organ, group, indicator) of a [`Tally`].
type LatestKey = (usize, usize, usize);

impl Tally {
    /// `groups` empty groups. `one_period_per_group`: every group holds at
    /// most one period, so an organ's latest value in a group is its only
    /// one and LAST adds values as they come.
    pub fn new(groups: usize, sources: Vec<(Aggregation, Source)>, one_period_per_group: bool) -> Tally {
        Tally {
            cells: vec![Gathered::default(); groups.saturating_mul(sources.len())],
            sources,
            latest: (!one_period_per_group).then(BTreeMap::new),
        }
    }

    /// Adds one report of `organ` (any number identifying it) for `period`
    /// to `group`; `values` are in the columns of the sources.
    pub fn add(&mut self, group: usize, organ: usize, period: Period, values: &[Option<f64>]) {
        let Tally {
            sources,
            cells,
            latest,
        } = self;
        let width = sources.len();
        let cells = &mut cells[group * width..(group + 1) * width];
        for (index, ((rule, source), cell)) in sources.iter().zip(cells).enumerate() {
            match *source {
                Source::Values(column) => {
                    let Some(value) = values[column] else {
                        continue;
                    };
                    match &mut cell.values {
                        Some(partial) => partial.merge(&Partial::of(value)),
                        None => cell.values = Some(Partial::of(value)),
                    }
                    if *rule == Aggregation::Last {
                        match latest {
                            None => *cell.latest_sum.get_or_insert(0.0) += value,
                            Some(latest) => {
                                let entry = latest.entry((organ, group, index)).or_insert((period, value));
                                if period > entry.0 {
                                    *entry = (period, value);
                                }
                            }
                        }
                    }
                }
                Source::Ratio {
                    numerator,
                    denominator,
                } => {
                    if let (Some(numerator), Some(denominator)) = (values[numerator], values[denominator]) {
                        cell.ratio
                            .get_or_insert_with(RatioParts::default)
                            .merge(&RatioParts {
                                reports: 1,
                                numerator,
                                denominator,
                            });
                    }
                }
            }
        }
    }

    /// What each group gathered, group-major.
    pub fn finish(self) -> Vec<Gathered> {
        let width = self.sources.len();
        let mut cells = self.cells;
        for ((_, group, index), (_, value)) in self.latest.into_iter().flatten() {
            *cells[group * width + index].latest_sum.get_or_insert(0.0) += value;
        }
        cells
    }
}

/// Why an indicator cannot be aggregated, if it cannot.
pub fn not_aggregatable(indicator: &Indicator) -> Option<String> {
    if !indicator.value_type.is_numeric() {
        return Some(format!(
            "{} is {}; only numeric indicators are aggregated",
            indicator.code,
            indicator.value_type.as_str()
        ));
    }
    let percentage_without_parts = indicator.value_type == ValueType::Percent
        && indicator.ratio_of.is_none()
        && !matches!(indicator.aggregation, Aggregation::Min | Aggregation::Max);
    percentage_without_parts.then(|| {
        format!(
            "{} is a percentage without numerator and denominator: it cannot be recomputed, \
             and averaging or adding percentages would be wrong",
            indicator.code
        )
    })
}

/// Whether data of `source` periodicity rolls up into `target` periods.
pub fn rolls_up(source: Periodicity, target: Periodicity) -> bool {
    use Periodicity::{AdHoc, Annual, Monthly, NineMonth, Quarterly, Semiannual};
    match (source, target) {
        (AdHoc, _) | (_, AdHoc) => false,
        (same, other) if same == other => true,
        (Monthly, Quarterly | Semiannual | NineMonth | Annual) => true,
        (Quarterly, Semiannual | NineMonth | Annual) => true,
        (Semiannual, Annual) => true,
        _ => false,
    }
}

/// The `target` period a period's data belongs to; `None` when it belongs
/// to none (October to December have no nine-month period) or when the
/// periodicities do not roll up.
pub fn rollup_period(period: Period, target: Periodicity) -> Option<Period> {
    if !rolls_up(period.periodicity(), target) {
        return None;
    }
    // Every period that rolls up covers a run of months of one year.
    let (year, last_month) = match period {
        Period::Month { year, month } => (year, month),
        Period::Quarter { year, quarter } => (year, quarter * 3),
        Period::Half { year, half } => (year, half * 6),
        Period::NineMonths { year } => (year, 9),
        Period::Year { year } => (year, 12),
        Period::Day(_) => return None,
    };
    match target {
        Periodicity::Monthly => Some(Period::Month {
            year,
            month: last_month,
        }),
        Periodicity::Quarterly => Some(Period::Quarter {
            year,
            quarter: (last_month - 1) / 3 + 1,
        }),
        Periodicity::Semiannual => Some(Period::Half {
            year,
            half: (last_month - 1) / 6 + 1,
        }),
        Periodicity::NineMonth => (last_month <= 9).then_some(Period::NineMonths { year }),
        Periodicity::Annual => Some(Period::Year { year }),
        Periodicity::AdHoc => None,
    }
}

/// Median of `values` (which need not be sorted); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// How far a value lies from a history, robustly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryScore {
    /// The modified z-score (Iglewicz and Hoaglin): 0.6745 × (value −
    /// median) / MAD; when the MAD is zero, (value − median) / (1.253314 ×
    /// mean absolute deviation); infinite when the history never varied and
    /// the value differs from it.
    pub score: f64,
    pub median: f64,
}

/// 0.6745 is the 0.75 quantile of the standard normal: MAD / 0.6745
/// estimates the standard deviation of normally distributed values.
const MAD_SCALE: f64 = 0.6745;
/// √(π/2): mean absolute deviation × 1.253314 estimates the standard deviation.
const MEAN_AD_SCALE: f64 = 1.253_314;

/// The modified z-score of `value` against `history`; `None` for an empty history.
pub fn modified_z_score(value: f64, history: &[f64]) -> Option<HistoryScore> {
    let median = median(history)?;
    let deviations: Vec<f64> = history.iter().map(|past| (past - median).abs()).collect();
    let mad = self::median(&deviations)?;
    let distance = value - median;
    let score = if mad > 0.0 {
        MAD_SCALE * distance / mad
    } else {
        let mean_deviation = deviations.iter().sum::<f64>() / deviations.len() as f64;
        if mean_deviation > 0.0 {
            distance / (MEAN_AD_SCALE * mean_deviation)
        } else if distance == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(distance)
        }
    };
    Some(HistoryScore { score, median })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(year: i32, month: u8) -> Period {
        Period::Month { year, month }
    }

    fn partial(values: &[f64]) -> Partial {
        let mut total = Partial {
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
        };
        for value in values {
            total.merge(&Partial::of(*value));
        }
        total
    }

    #[test]
    fn each_rule_finishes_its_own_way() {
        // Two partial aggregates, as the store returns them for two months.
        let mut values = partial(&[10.0, 30.0]);
        values.merge(&partial(&[20.0]));
        assert_eq!(values.count, 3);
        let gathered = Gathered {
            values: Some(values),
            latest_sum: Some(50.0),
            ratio: None,
        };
        assert_eq!(gathered.value(Aggregation::Sum), Some(60.0));
        assert_eq!(gathered.value(Aggregation::Avg), Some(20.0));
        assert_eq!(gathered.value(Aggregation::Min), Some(10.0));
        assert_eq!(gathered.value(Aggregation::Max), Some(30.0));
        assert_eq!(gathered.value(Aggregation::Last), Some(50.0));
        assert_eq!(gathered.contributing(Aggregation::Sum), 3);
        assert_eq!(gathered.value(Aggregation::Ratio), None);
        assert_eq!(Gathered::default().value(Aggregation::Sum), None);
        assert_eq!(Gathered::default().value(Aggregation::Last), None);
    }

    /// (organ, month, received, online, staff) of three organs over a
    /// quarter; the third organ left `online` out.
    const REPORTS: [(usize, u8, f64, Option<f64>, f64); 6] = [
        (0, 1, 100.0, Some(10.0), 20.0),
        (1, 1, 300.0, Some(90.0), 30.0),
        (2, 1, 50.0, None, 5.0),
        (0, 2, 220.0, Some(22.0), 22.0),
        (1, 2, 100.0, Some(50.0), 31.0),
        (0, 3, 10.0, Some(1.0), 23.0),
    ];

    /// Received (SUM), staff (LAST), online of received (RATIO) and
    /// received again (MAX), over the columns received, online, staff.
    fn sources() -> Vec<(Aggregation, Source)> {
        vec![
            (Aggregation::Sum, Source::Values(0)),
            (Aggregation::Last, Source::Values(2)),
            (
                Aggregation::Ratio,
                Source::Ratio {
                    numerator: 1,
                    denominator: 0,
                },
            ),
            (Aggregation::Max, Source::Values(0)),
        ]
    }

    #[test]
    fn a_tally_applies_each_rule_and_last_takes_each_organs_latest_period() {
        // One group for the quarter: several periods per group.
        let mut quarter = Tally::new(1, sources(), false);
        // Latest first: the order the store returns reports in does not matter.
        for (organ, month_number, received, online, staff) in REPORTS.iter().rev() {
            quarter.add(
                0,
                *organ,
                month(2025, *month_number),
                &[Some(*received), *online, Some(*staff)],
            );
        }
        let cells = quarter.finish();
        assert_eq!(cells[0].value(Aggregation::Sum), Some(780.0));
        assert_eq!(cells[0].contributing(Aggregation::Sum), 6);
        // March 23 of the first organ, February 31 of the second, January 5.
        assert_eq!(cells[1].value(Aggregation::Last), Some(59.0));
        // The third organ's 50 stay out of the denominator: 173 of 730.
        let ratio = cells[2].ratio.expect("ratio parts");
        assert_eq!(
            (ratio.reports, ratio.numerator, ratio.denominator),
            (5, 173.0, 730.0)
        );
        assert_eq!(cells[3].value(Aggregation::Max), Some(300.0));

        // A group per month: each organ's only value in it.
        let mut monthly = Tally::new(3, sources(), true);
        for (organ, month_number, received, online, staff) in REPORTS {
            let group = usize::from(month_number) - 1;
            monthly.add(
                group,
                organ,
                month(2025, month_number),
                &[Some(received), online, Some(staff)],
            );
        }
        let cells = monthly.finish();
        let last = |group: usize| cells[group * 4 + 1].value(Aggregation::Last);
        assert_eq!([last(0), last(1), last(2)], [Some(55.0), Some(53.0), Some(23.0)]);
    }

    #[test]
    fn merging_an_empty_partial_keeps_the_extremes() {
        let mut values = Partial {
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
        };
        values.merge(&partial(&[-5.0, 7.0]));
        assert_eq!((values.min, values.max), (-5.0, 7.0));
        values.merge(&partial(&[]));
        assert_eq!((values.count, values.min, values.max), (2, -5.0, 7.0));
    }

    #[test]
    fn a_ratio_is_weighted_by_its_denominators_never_averaged() {
        // 10 of 100 online (10 %) and 90 of 100 (90 %), and 0 of 800 (0 %).
        let mut ratio = RatioParts::default();
        for (numerator, denominator) in [(10.0, 100.0), (90.0, 100.0), (0.0, 800.0)] {
            ratio.merge(&RatioParts {
                reports: 1,
                numerator,
                denominator,
            });
        }
        let gathered = Gathered {
            ratio: Some(ratio),
            ..Gathered::default()
        };
        // (10 + 90 + 0) / 1000, not the mean of 10, 90 and 0.
        assert_eq!(gathered.value(Aggregation::Ratio), Some(10.0));
        assert_eq!(gathered.contributing(Aggregation::Ratio), 3);
        let zero = RatioParts {
            reports: 2,
            numerator: 0.0,
            denominator: 0.0,
        };
        assert_eq!(zero.percentage(), None);
    }

    #[test]
    fn only_recomputable_percentages_and_numbers_aggregate() {
        let definition = crate::form::tests::sample_definition();
        for indicator in &definition.indicators {
            assert_eq!(not_aggregatable(indicator), None, "{}", indicator.code);
        }
        let mut averaged = definition.indicators[2].clone();
        averaged.ratio_of = None;
        averaged.aggregation = Aggregation::Avg;
        assert!(not_aggregatable(&averaged).is_some_and(|reason| reason.contains("percentage")));
        averaged.aggregation = Aggregation::Max;
        assert_eq!(not_aggregatable(&averaged), None);
        let mut text = definition.indicators[0].clone();
        text.value_type = ValueType::Text;
        assert!(not_aggregatable(&text).is_some());
    }

    #[test]
    fn months_roll_up_into_longer_periods() {
        assert_eq!(
            rollup_period(month(2025, 5), Periodicity::Quarterly),
            Some(Period::Quarter {
                year: 2025,
                quarter: 2
            })
        );
        assert_eq!(
            rollup_period(month(2025, 7), Periodicity::Semiannual),
            Some(Period::Half { year: 2025, half: 2 })
        );
        assert_eq!(
            rollup_period(month(2025, 9), Periodicity::NineMonth),
            Some(Period::NineMonths { year: 2025 })
        );
        assert_eq!(rollup_period(month(2025, 10), Periodicity::NineMonth), None);
        assert_eq!(
            rollup_period(month(2025, 12), Periodicity::Annual),
            Some(Period::Year { year: 2025 })
        );
        assert_eq!(
            rollup_period(
                Period::Quarter {
                    year: 2025,
                    quarter: 3
                },
                Periodicity::Semiannual
            ),
            Some(Period::Half { year: 2025, half: 2 })
        );
        assert_eq!(
            rollup_period(month(2025, 4), Periodicity::Monthly),
            Some(month(2025, 4))
        );
        // Longer into shorter, and half years into nine months, do not roll up.
        assert_eq!(
            rollup_period(Period::Year { year: 2025 }, Periodicity::Quarterly),
            None
        );
        assert_eq!(
            rollup_period(Period::Half { year: 2025, half: 1 }, Periodicity::NineMonth),
            None
        );
        assert!(!rolls_up(Periodicity::AdHoc, Periodicity::Annual));
    }

    #[test]
    fn group_keys_sort_by_period_then_locality_then_bloc() {
        let key = |period: Option<Period>, locality: Option<&str>, bloc: Option<Bloc>| GroupKey {
            period,
            locality_code: locality.map(str::to_owned),
            bloc,
        };
        let mut keys = [
            key(Some(month(2025, 2)), Some("00004"), None),
            key(Some(month(2025, 1)), Some("00008"), Some(Bloc::Government)),
            key(Some(month(2025, 1)), Some("00008"), Some(Bloc::Party)),
            key(Some(month(2025, 1)), Some("00004"), None),
        ];
        keys.sort();
        assert_eq!(keys[0], key(Some(month(2025, 1)), Some("00004"), None));
        assert_eq!(keys[1].bloc, Some(Bloc::Party));
        assert_eq!(keys[2].bloc, Some(Bloc::Government));
        assert_eq!(keys[3].period, Some(month(2025, 2)));
    }

    #[test]
    fn median_of_odd_and_even_histories() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn modified_z_score_uses_median_and_mad() {
        // Median 100, absolute deviations 2, 0, 2, 4, 4 → MAD 2.
        let history = [98.0, 100.0, 102.0, 96.0, 104.0];
        let far = modified_z_score(140.0, &history).expect("history");
        assert_eq!(far.median, 100.0);
        assert!((far.score - 0.6745 * 40.0 / 2.0).abs() < 1e-9, "{far:?}");
        assert!(far.score > 3.5);
        let near = modified_z_score(103.0, &history).expect("history");
        assert!(near.score.abs() < 3.5, "{near:?}");
        let below = modified_z_score(60.0, &history).expect("history");
        assert!(below.score < -3.5, "{below:?}");
        // One wild value in the history does not hide the next one.
        let noisy = [100.0, 101.0, 99.0, 100.0, 5_000.0, 100.0];
        assert!(modified_z_score(400.0, &noisy).expect("history").score > 3.5);
        assert_eq!(modified_z_score(1.0, &[]), None);
    }

    #[test]
    fn a_history_with_zero_mad_falls_back_to_the_mean_deviation() {
        // Median 10, MAD 0 (four of five equal), mean absolute deviation 2.
        let history = [10.0, 10.0, 10.0, 10.0, 20.0];
        let score = modified_z_score(30.0, &history).expect("history");
        assert!((score.score - 20.0 / (1.253_314 * 2.0)).abs() < 1e-9, "{score:?}");
        // A history that never varied: any other value is infinitely unusual.
        let flat = [7.0; 6];
        assert_eq!(modified_z_score(7.0, &flat).expect("history").score, 0.0);
        assert_eq!(
            modified_z_score(8.0, &flat).expect("history").score,
            f64::INFINITY
        );
        assert_eq!(
            modified_z_score(6.0, &flat).expect("history").score,
            f64::NEG_INFINITY
        );
    }
}
