//! Reporting periods and their data cut-off windows.
//!
//! Every report in lienthong is filed *for a period*: a month, a quarter, a
//! half year, the first nine months, a whole year, or — for ad-hoc requests —
//! a single day. Which source data belongs to a period is not simply the
//! calendar span: Vietnam's Decree 09/2019/NĐ-CP fixes *data cut-off windows*
//! that run from day 15 of the month before the period to day 14 of the
//! period's last month (so the "September 2025" report covers
//! 2025-08-15..=2025-09-14). Some forms instead use plain calendar windows.
//! This module owns that arithmetic so that forms, deadlines, reminders and
//! storage all agree on it.
//!
//! Periods have a readable id used on the wire and in storage:
//! `2025-09` (month), `2025-Q3` (quarter), `2025-H1` / `2025-H2` (half year),
//! `2025-9M` (nine months), `2025` (year) and `2025-09-20` (ad-hoc day), for
//! years 1900..=9999.
//!
//! All functions are total: a [`Period`] built by hand with out-of-range
//! fields (its fields are public) is clamped to the nearest meaningful value
//! instead of panicking, and dates beyond what [`time::Date`] can represent
//! saturate. Use [`Period::is_valid`] to reject such values at the boundary.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset};

/// Vietnam's fixed UTC offset, +07:00 (Indochina Time, no daylight saving).
pub const VIETNAM_OFFSET: UtcOffset = time::macros::offset!(+07:00);

/// Earliest year a period id may name.
pub const MIN_SUPPORTED_YEAR: i32 = 1900;

/// Latest year a period id may name; ids always have a four-digit year.
pub const MAX_SUPPORTED_YEAR: i32 = 9999;

/// Day of the month on which a Decree 09 cut-off window starts (in the month
/// *before* the period's first month).
const DECREE09_WINDOW_START_DAY: u8 = 15;

/// Day of the month on which a Decree 09 cut-off window ends (in the period's
/// last month).
const DECREE09_WINDOW_END_DAY: u8 = 14;

/// Months in a quarter, used to map months to quarters and back.
const MONTHS_PER_QUARTER: u8 = 3;

/// Months in a half year, used to map months to halves and back.
const MONTHS_PER_HALF: u8 = 6;

/// The last month covered by a nine-month period.
const NINE_MONTHS_LAST_MONTH: u8 = 9;

/// Today's date in Vietnam for an instant.
///
/// Saturates to [`Date::MAX`] / [`Date::MIN`] for instants so close to the
/// limits of [`time`] that the Vietnamese calendar date is not representable.
pub fn vietnam_date(instant: OffsetDateTime) -> Date {
    match instant.checked_to_offset(VIETNAM_OFFSET) {
        Some(vietnam_instant) => vietnam_instant.date(),
        // Only reachable within a day of the representable range's ends.
        None if instant.year() > 0 => Date::MAX,
        None => Date::MIN,
    }
}

/// How often a form is reported; each [`Period`] variant has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Periodicity {
    /// One report per month ([`Period::Month`]).
    Monthly,
    /// One report per quarter ([`Period::Quarter`]).
    Quarterly,
    /// One report per half year ([`Period::Half`]).
    Semiannual,
    /// One report covering the first nine months of a year ([`Period::NineMonths`]).
    NineMonth,
    /// One report per year ([`Period::Year`]).
    Annual,
    /// Reports requested on demand, each for a single day ([`Period::Day`]).
    AdHoc,
}

impl Periodicity {
    /// Every periodicity, in order from shortest recurring period to ad hoc;
    /// handy for exhaustive checks and option lists.
    pub const ALL: [Periodicity; 6] = [
        Periodicity::Monthly,
        Periodicity::Quarterly,
        Periodicity::Semiannual,
        Periodicity::NineMonth,
        Periodicity::Annual,
        Periodicity::AdHoc,
    ];
}

/// Which rule turns a period into the span of dates whose data it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum WindowRule {
    /// Decree 09/2019/NĐ-CP: day 15 of the month before the period's first
    /// month through day 14 of its last month. The default for state reports.
    #[default]
    Decree09,
    /// Plain calendar span: first day of the first month through the last day
    /// of the last month.
    Calendar,
}

/// An inclusive span of dates (both `start` and `end` belong to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    /// First day of the window, inclusive.
    pub start: Date,
    /// Last day of the window, inclusive.
    pub end: Date,
}

impl DateWindow {
    /// Whether `date` falls within the window (ends included).
    pub fn contains(&self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }
}

/// A reporting period: what a report is *for*.
///
/// Ordering is derived: periods of the same kind order chronologically;
/// periods of different kinds order by variant first, which is arbitrary but
/// stable (useful for sorted maps, not for comparing across kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A calendar month, `month` in 1..=12. Id `YYYY-MM`.
    Month {
        /// Reporting year.
        year: i32,
        /// Month of the year, 1..=12.
        month: u8,
    },
    /// A quarter, `quarter` in 1..=4. Id `YYYY-Qn`.
    Quarter {
        /// Reporting year.
        year: i32,
        /// Quarter of the year, 1..=4.
        quarter: u8,
    },
    /// A half year, `half` 1 (January–June) or 2 (July–December). Id `YYYY-Hn`.
    Half {
        /// Reporting year.
        year: i32,
        /// Half of the year, 1 or 2.
        half: u8,
    },
    /// The first nine months of a year (January–September). Id `YYYY-9M`.
    NineMonths {
        /// Reporting year.
        year: i32,
    },
    /// A whole year. Id `YYYY`.
    Year {
        /// Reporting year.
        year: i32,
    },
    /// A single day, for ad-hoc reports. Id `YYYY-MM-DD`.
    Day(Date),
}

impl Period {
    /// The periodicity this period belongs to.
    pub fn periodicity(&self) -> Periodicity {
        match self {
            Period::Month { .. } => Periodicity::Monthly,
            Period::Quarter { .. } => Periodicity::Quarterly,
            Period::Half { .. } => Periodicity::Semiannual,
            Period::NineMonths { .. } => Periodicity::NineMonth,
            Period::Year { .. } => Periodicity::Annual,
            Period::Day(_) => Periodicity::AdHoc,
        }
    }

    /// Whether every field is in range: year in
    /// [`MIN_SUPPORTED_YEAR`]..=[`MAX_SUPPORTED_YEAR`], month 1..=12,
    /// quarter 1..=4, half 1..=2. Exactly the periods that have a parseable id.
    pub fn is_valid(&self) -> bool {
        let year_is_supported = |year: i32| (MIN_SUPPORTED_YEAR..=MAX_SUPPORTED_YEAR).contains(&year);
        match *self {
            Period::Month { year, month } => year_is_supported(year) && (1..=12).contains(&month),
            Period::Quarter { year, quarter } => year_is_supported(year) && (1..=4).contains(&quarter),
            Period::Half { year, half } => year_is_supported(year) && (1..=2).contains(&half),
            Period::NineMonths { year } | Period::Year { year } => year_is_supported(year),
            Period::Day(date) => year_is_supported(date.year()),
        }
    }

    /// The dates whose data this period's report covers, under `rule`.
    ///
    /// A [`Period::Day`] covers just that day whatever the rule. Out-of-range
    /// fields are clamped (month 0 acts as 1, quarter 7 as 4, …) and dates
    /// beyond [`time`]'s range saturate, so this never panics.
    pub fn cutoff_window(&self, rule: WindowRule) -> DateWindow {
        let span = match self.normalized().coverage() {
            Coverage::Months(span) => span,
            Coverage::SingleDay(date) => {
                return DateWindow {
                    start: date,
                    end: date,
                };
            }
        };
        let year = i64::from(span.year);
        match rule {
            WindowRule::Decree09 => {
                // The window opens mid-month in the month before the period,
                // which for a January start is December of the previous year.
                let (start_year, start_month) = if span.first_month == 1 {
                    (year - 1, 12)
                } else {
                    (year, span.first_month - 1)
                };
                DateWindow {
                    start: saturating_calendar_date(start_year, start_month, DECREE09_WINDOW_START_DAY),
                    end: saturating_calendar_date(year, span.last_month, DECREE09_WINDOW_END_DAY),
                }
            }
            WindowRule::Calendar => DateWindow {
                start: saturating_calendar_date(year, span.first_month, 1),
                // Day 31 is clamped to the month's length: its last day.
                end: saturating_calendar_date(year, span.last_month, 31),
            },
        }
    }

    /// Last day a report may be sent: cut-off window end + `days_after_cutoff`
    /// (saturating at [`Date::MAX`]).
    pub fn deadline_date(&self, rule: WindowRule, days_after_cutoff: u16) -> Date {
        self.cutoff_window(rule)
            .end
            .saturating_add(Duration::days(i64::from(days_after_cutoff)))
    }

    /// Instant the deadline passes: the end of [`Period::deadline_date`] in
    /// Vietnam time, i.e. 00:00 +07:00 of the following day. A report received
    /// strictly before this instant is on time.
    pub fn deadline(&self, rule: WindowRule, days_after_cutoff: u16) -> OffsetDateTime {
        let last_day = self.deadline_date(rule, days_after_cutoff);
        match last_day.next_day() {
            Some(following_day) => {
                OffsetDateTime::new_in_offset(following_day, Time::MIDNIGHT, VIETNAM_OFFSET)
            }
            // There is no next day to start at; the last representable moment
            // of the last day is the closest honest answer.
            None => OffsetDateTime::new_in_offset(last_day, Time::MAX, VIETNAM_OFFSET),
        }
    }

    /// The following period of the same periodicity (a year later for
    /// [`Period::NineMonths`] and [`Period::Year`], a day later for
    /// [`Period::Day`]).
    ///
    /// Never leaves the supported range: the last period of year
    /// [`MAX_SUPPORTED_YEAR`] is its own successor. Out-of-range fields are
    /// clamped first.
    pub fn next(&self) -> Period {
        self.step_within_supported_range(1)
    }

    /// The preceding period of the same periodicity; the mirror image of
    /// [`Period::next`], with the first period of [`MIN_SUPPORTED_YEAR`] being
    /// its own predecessor.
    pub fn previous(&self) -> Period {
        self.step_within_supported_range(-1)
    }

    /// The period of `periodicity` whose cut-off window under `rule` contains
    /// `date` ([`Periodicity::AdHoc`] gives `Period::Day(date)`).
    ///
    /// Returns `None` when no such period exists: for
    /// [`Periodicity::NineMonth`] on dates between two nine-month windows
    /// (15 Sep..=14 Dec under Decree 09, October–December on calendar
    /// windows), and whenever the period would fall outside the supported
    /// years (e.g. 9999-12-20 under Decree 09 belongs to January 10000).
    pub fn containing(periodicity: Periodicity, rule: WindowRule, date: Date) -> Option<Period> {
        let (year, month) = reporting_month_of(rule, date);
        let candidate = match periodicity {
            Periodicity::Monthly => Period::Month { year, month },
            Periodicity::Quarterly => Period::Quarter {
                year,
                quarter: (month - 1) / MONTHS_PER_QUARTER + 1,
            },
            Periodicity::Semiannual => Period::Half {
                year,
                half: (month - 1) / MONTHS_PER_HALF + 1,
            },
            Periodicity::NineMonth if month <= NINE_MONTHS_LAST_MONTH => Period::NineMonths { year },
            Periodicity::NineMonth => return None,
            Periodicity::Annual => Period::Year { year },
            Periodicity::AdHoc => Period::Day(date),
        };
        candidate.is_valid().then_some(candidate)
    }

    /// The instants from the start of `self`'s first calendar day to the end
    /// of `last`'s last calendar day, Vietnam time, as a half-open
    /// `[start, end)`: what was received "in" a range of periods.
    pub fn calendar_span(&self, last: Period) -> (OffsetDateTime, OffsetDateTime) {
        let start = self.cutoff_window(WindowRule::Calendar).start;
        let end = last.cutoff_window(WindowRule::Calendar).end;
        let at_midnight = |date: Date| OffsetDateTime::new_in_offset(date, Time::MIDNIGHT, VIETNAM_OFFSET);
        let end = match end.next_day() {
            Some(following_day) => at_midnight(following_day),
            None => OffsetDateTime::new_in_offset(end, Time::MAX, VIETNAM_OFFSET),
        };
        (at_midnight(start), end)
    }

    /// Periods of the same periodicity from `self` to `last` inclusive, in
    /// chronological order; empty if `last` comes before `self` or the two
    /// have different periodicities. Out-of-range fields are clamped first.
    pub fn through(self, last: Period) -> impl Iterator<Item = Period> {
        let periodicity = self.periodicity();
        let ordinals = (periodicity == last.periodicity())
            .then(|| self.ordinal()..=last.ordinal())
            .into_iter()
            .flatten();
        ordinals.filter_map(move |ordinal| Period::from_ordinal(periodicity, ordinal))
    }

    /// Copy with month/quarter/half clamped into range, so arithmetic on a
    /// hand-built invalid period stays meaningful instead of panicking.
    fn normalized(self) -> Period {
        match self {
            Period::Month { year, month } => Period::Month {
                year,
                month: month.clamp(1, 12),
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter.clamp(1, 4),
            },
            Period::Half { year, half } => Period::Half {
                year,
                half: half.clamp(1, 2),
            },
            Period::NineMonths { .. } | Period::Year { .. } | Period::Day(_) => self,
        }
    }

    /// What a (normalized) period covers: a run of months, or a single day.
    fn coverage(self) -> Coverage {
        let (year, first_month, last_month) = match self {
            Period::Month { year, month } => (year, month, month),
            Period::Quarter { year, quarter } => (
                year,
                (quarter - 1) * MONTHS_PER_QUARTER + 1,
                quarter * MONTHS_PER_QUARTER,
            ),
            Period::Half { year, half } => (year, (half - 1) * MONTHS_PER_HALF + 1, half * MONTHS_PER_HALF),
            Period::NineMonths { year } => (year, 1, NINE_MONTHS_LAST_MONTH),
            Period::Year { year } => (year, 1, 12),
            Period::Day(date) => return Coverage::SingleDay(date),
        };
        Coverage::Months(MonthSpan {
            year,
            first_month,
            last_month,
        })
    }

    /// Position of the (normalized) period on a line of consecutive periods of
    /// its periodicity: stepping to the next period adds one. Uses `i64` so
    /// that no `i32` year can overflow it.
    fn ordinal(self) -> i64 {
        match self.normalized() {
            Period::Month { year, month } => i64::from(year) * 12 + i64::from(month) - 1,
            Period::Quarter { year, quarter } => i64::from(year) * 4 + i64::from(quarter) - 1,
            Period::Half { year, half } => i64::from(year) * 2 + i64::from(half) - 1,
            Period::NineMonths { year } | Period::Year { year } => i64::from(year),
            Period::Day(date) => i64::from(date.to_julian_day()),
        }
    }

    /// Inverse of [`Period::ordinal`]; `None` if the ordinal is beyond what a
    /// `Period` can hold.
    fn from_ordinal(periodicity: Periodicity, ordinal: i64) -> Option<Period> {
        let year_and_index = |periods_per_year: i64| -> Option<(i32, u8)> {
            let year = i32::try_from(ordinal.div_euclid(periods_per_year)).ok()?;
            let index = u8::try_from(ordinal.rem_euclid(periods_per_year) + 1).ok()?;
            Some((year, index))
        };
        Some(match periodicity {
            Periodicity::Monthly => {
                let (year, month) = year_and_index(12)?;
                Period::Month { year, month }
            }
            Periodicity::Quarterly => {
                let (year, quarter) = year_and_index(4)?;
                Period::Quarter { year, quarter }
            }
            Periodicity::Semiannual => {
                let (year, half) = year_and_index(2)?;
                Period::Half { year, half }
            }
            Periodicity::NineMonth => Period::NineMonths {
                year: i32::try_from(ordinal).ok()?,
            },
            Periodicity::Annual => Period::Year {
                year: i32::try_from(ordinal).ok()?,
            },
            Periodicity::AdHoc => Period::Day(Date::from_julian_day(i32::try_from(ordinal).ok()?).ok()?),
        })
    }

    /// Moves `delta` (±1) periods, refusing to step further out past the
    /// supported range's ends (which also keeps the arithmetic overflow-free).
    fn step_within_supported_range(&self, delta: i64) -> Period {
        let normalized = self.normalized();
        let periodicity = normalized.periodicity();
        let current = normalized.ordinal();
        let (first_supported, last_supported) = supported_ordinal_bounds(periodicity);
        let at_edge = if delta > 0 {
            current >= last_supported
        } else {
            current <= first_supported
        };
        if at_edge {
            return normalized;
        }
        Period::from_ordinal(periodicity, current + delta).unwrap_or(normalized)
    }
}

/// The first and last month of the year a period covers.
#[derive(Debug, Clone, Copy)]
struct MonthSpan {
    year: i32,
    first_month: u8,
    last_month: u8,
}

/// What a period covers before a [`WindowRule`] turns it into dates.
#[derive(Debug, Clone, Copy)]
enum Coverage {
    /// Months `first_month..=last_month` of `year`.
    Months(MonthSpan),
    /// Exactly one day (ad-hoc periods, whatever the rule).
    SingleDay(Date),
}

/// Ordinals of the first and last supported period of `periodicity`.
fn supported_ordinal_bounds(periodicity: Periodicity) -> (i64, i64) {
    let first_year = i64::from(MIN_SUPPORTED_YEAR);
    let last_year = i64::from(MAX_SUPPORTED_YEAR);
    match periodicity {
        Periodicity::Monthly => (first_year * 12, last_year * 12 + 11),
        Periodicity::Quarterly => (first_year * 4, last_year * 4 + 3),
        Periodicity::Semiannual => (first_year * 2, last_year * 2 + 1),
        Periodicity::NineMonth | Periodicity::Annual => (first_year, last_year),
        Periodicity::AdHoc => {
            let first_day = time::macros::date!(1900 - 01 - 01);
            let last_day = time::macros::date!(9999 - 12 - 31);
            (
                i64::from(first_day.to_julian_day()),
                i64::from(last_day.to_julian_day()),
            )
        }
    }
}

/// The (year, month) whose monthly period's window contains `date`: under
/// Decree 09 the window for month M opens on the 15th of M-1, so from the
/// 15th on a date already belongs to the next month's report.
fn reporting_month_of(rule: WindowRule, date: Date) -> (i32, u8) {
    let year = date.year();
    let month = u8::from(date.month());
    match rule {
        WindowRule::Calendar => (year, month),
        WindowRule::Decree09 if date.day() < DECREE09_WINDOW_START_DAY => (year, month),
        WindowRule::Decree09 if month == 12 => (year.saturating_add(1), 1),
        WindowRule::Decree09 => (year, month + 1),
    }
}

/// Builds `year-month-day`, clamping `month` to 1..=12 and `day` to the
/// month's length (so day 31 means "last day of the month"), and saturating
/// to [`Date::MIN`] / [`Date::MAX`] for years [`time`] cannot represent.
fn saturating_calendar_date(year: i64, month: u8, day: u8) -> Date {
    let saturated = if year < 0 { Date::MIN } else { Date::MAX };
    let Ok(year) = i32::try_from(year) else {
        return saturated;
    };
    if year < Date::MIN.year() || year > Date::MAX.year() {
        return saturated;
    }
    let Ok(month) = Month::try_from(month.clamp(1, 12)) else {
        return saturated;
    };
    let day = day.clamp(1, month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(saturated)
}

impl fmt::Display for Period {
    /// Writes the readable id: `2025-09`, `2025-Q3`, `2025-H1`, `2025-9M`,
    /// `2025` or `2025-09-20`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Month { year, month } => write!(formatter, "{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => write!(formatter, "{year:04}-Q{quarter}"),
            Period::Half { year, half } => write!(formatter, "{year:04}-H{half}"),
            Period::NineMonths { year } => write!(formatter, "{year:04}-9M"),
            Period::Year { year } => write!(formatter, "{year:04}"),
            Period::Day(date) => write!(
                formatter,
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
        }
    }
}

/// Why a period id was rejected; see [`PeriodParseError::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeriodParseErrorKind {
    /// The text matches none of the accepted shapes.
    UnrecognisedForm,
    /// The year is outside [`MIN_SUPPORTED_YEAR`]..=[`MAX_SUPPORTED_YEAR`].
    YearOutOfRange,
    /// The month is outside 01..=12.
    MonthOutOfRange,
    /// The quarter is outside 1..=4.
    QuarterOutOfRange,
    /// The half is neither 1 nor 2.
    HalfOutOfRange,
    /// The day does not exist in that month (e.g. `2025-09-31`).
    DayOutOfRange,
}

impl fmt::Display for PeriodParseErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            PeriodParseErrorKind::UnrecognisedForm => "unrecognised form",
            PeriodParseErrorKind::YearOutOfRange => "year must be 1900..=9999",
            PeriodParseErrorKind::MonthOutOfRange => "month must be 01..=12",
            PeriodParseErrorKind::QuarterOutOfRange => "quarter must be Q1..=Q4",
            PeriodParseErrorKind::HalfOutOfRange => "half must be H1 or H2",
            PeriodParseErrorKind::DayOutOfRange => "no such day in that month",
        })
    }
}

/// A string that is not a valid period id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid period id {input:?} ({kind}); accepted forms are YYYY (year), YYYY-MM (month), \
     YYYY-Qn (quarter, n = 1..4), YYYY-Hn (half year, n = 1..2), YYYY-9M (nine months) \
     and YYYY-MM-DD (ad-hoc day), with YYYY in 1900..=9999"
)]
pub struct PeriodParseError {
    /// The rejected text, truncated to keep hostile inputs out of logs.
    input: String,
    kind: PeriodParseErrorKind,
}

impl PeriodParseError {
    /// How much of a rejected id is kept for the message; real ids are at
    /// most 10 characters.
    const MAX_ECHOED_CHARS: usize = 32;

    fn new(input: &str, kind: PeriodParseErrorKind) -> Self {
        let mut echoed: String = input.chars().take(Self::MAX_ECHOED_CHARS).collect();
        if echoed.len() < input.len() {
            echoed.push('…');
        }
        Self { input: echoed, kind }
    }

    /// The rejected text (truncated to a few dozen characters).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was rejected.
    pub fn kind(&self) -> PeriodParseErrorKind {
        self.kind
    }
}

/// The shape of an id after its digits are read, before range checks.
enum PeriodIdShape {
    Year,
    Month(u8),
    Quarter(u8),
    Half(u8),
    NineMonths,
    Day { month: u8, day: u8 },
}

/// Value of one ASCII digit, `None` for anything else (including non-ASCII
/// digits, which are not part of the id syntax).
fn ascii_digit_value(byte: u8) -> Option<u8> {
    byte.is_ascii_digit().then(|| byte - b'0')
}

/// Value of exactly two ASCII digits.
fn two_digit_value(tens: u8, units: u8) -> Option<u8> {
    Some(ascii_digit_value(tens)? * 10 + ascii_digit_value(units)?)
}

impl FromStr for Period {
    type Err = PeriodParseError;

    /// Parses a readable id strictly: no surrounding whitespace, no sign,
    /// upper-case `Q`/`H`/`M`, zero-padded months and days.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |kind| PeriodParseError::new(input, kind);
        let unrecognised = || error(PeriodParseErrorKind::UnrecognisedForm);

        // Every accepted form starts with exactly four year digits.
        let (year_bytes, rest) = input.as_bytes().split_at_checked(4).ok_or_else(unrecognised)?;
        let year = year_bytes
            .iter()
            .try_fold(0_i32, |value, &byte| {
                Some(value * 10 + i32::from(ascii_digit_value(byte)?))
            })
            .ok_or_else(unrecognised)?;

        let shape = match *rest {
            [] => PeriodIdShape::Year,
            [b'-', b'Q', quarter] => {
                PeriodIdShape::Quarter(ascii_digit_value(quarter).ok_or_else(unrecognised)?)
            }
            [b'-', b'H', half] => PeriodIdShape::Half(ascii_digit_value(half).ok_or_else(unrecognised)?),
            [b'-', b'9', b'M'] => PeriodIdShape::NineMonths,
            [b'-', month_tens, month_units] => {
                PeriodIdShape::Month(two_digit_value(month_tens, month_units).ok_or_else(unrecognised)?)
            }
            [b'-', month_tens, month_units, b'-', day_tens, day_units] => PeriodIdShape::Day {
                month: two_digit_value(month_tens, month_units).ok_or_else(unrecognised)?,
                day: two_digit_value(day_tens, day_units).ok_or_else(unrecognised)?,
            },
            _ => return Err(unrecognised()),
        };

        if !(MIN_SUPPORTED_YEAR..=MAX_SUPPORTED_YEAR).contains(&year) {
            return Err(error(PeriodParseErrorKind::YearOutOfRange));
        }
        let month_of =
            |month: u8| Month::try_from(month).map_err(|_| error(PeriodParseErrorKind::MonthOutOfRange));
        match shape {
            PeriodIdShape::Year => Ok(Period::Year { year }),
            PeriodIdShape::NineMonths => Ok(Period::NineMonths { year }),
            PeriodIdShape::Month(month) => {
                month_of(month)?;
                Ok(Period::Month { year, month })
            }
            PeriodIdShape::Quarter(quarter @ 1..=4) => Ok(Period::Quarter { year, quarter }),
            PeriodIdShape::Quarter(_) => Err(error(PeriodParseErrorKind::QuarterOutOfRange)),
            PeriodIdShape::Half(half @ 1..=2) => Ok(Period::Half { year, half }),
            PeriodIdShape::Half(_) => Err(error(PeriodParseErrorKind::HalfOutOfRange)),
            PeriodIdShape::Day { month, day } => Date::from_calendar_date(year, month_of(month)?, day)
                .map(Period::Day)
                .map_err(|_| error(PeriodParseErrorKind::DayOutOfRange)),
        }
    }
}

impl Serialize for Period {
    /// Serializes as the readable id string, e.g. `"2025-Q3"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    /// Deserializes from the readable id string, with the same strictness as
    /// [`FromStr`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(PeriodIdVisitor)
    }
}

/// Serde visitor accepting a period id string.
#[derive(Debug)]
struct PeriodIdVisitor;

impl Visitor<'_> for PeriodIdVisitor {
    type Value = Period;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a period id such as 2025-09, 2025-Q3, 2025-H1, 2025-9M, 2025 or 2025-09-20")
    }

    fn visit_str<E: de::Error>(self, id: &str) -> Result<Period, E> {
        id.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn month(year: i32, month: u8) -> Period {
        Period::Month { year, month }
    }

    fn quarter(year: i32, quarter: u8) -> Period {
        Period::Quarter { year, quarter }
    }

    fn half(year: i32, half: u8) -> Period {
        Period::Half { year, half }
    }

    fn window(start: Date, end: Date) -> DateWindow {
        DateWindow { start, end }
    }

    fn parse(id: &str) -> Result<Period, PeriodParseError> {
        id.parse()
    }

    // ----- Decree 09 windows (the examples from the decree) -----

    #[test]
    fn decree09_month_windows_run_from_the_15th_to_the_14th() {
        assert_eq!(
            month(2025, 9).cutoff_window(WindowRule::Decree09),
            window(date!(2025 - 08 - 15), date!(2025 - 09 - 14))
        );
    }

    #[test]
    fn decree09_january_window_starts_in_december_of_the_previous_year() {
        assert_eq!(
            month(2025, 1).cutoff_window(WindowRule::Decree09),
            window(date!(2024 - 12 - 15), date!(2025 - 01 - 14))
        );
        assert_eq!(
            month(2025, 12).cutoff_window(WindowRule::Decree09),
            window(date!(2025 - 11 - 15), date!(2025 - 12 - 14))
        );
    }

    #[test]
    fn decree09_quarter_windows() {
        let expected = [
            (1, date!(2024 - 12 - 15), date!(2025 - 03 - 14)),
            (2, date!(2025 - 03 - 15), date!(2025 - 06 - 14)),
            (3, date!(2025 - 06 - 15), date!(2025 - 09 - 14)),
            (4, date!(2025 - 09 - 15), date!(2025 - 12 - 14)),
        ];
        for (number, start, end) in expected {
            assert_eq!(
                quarter(2025, number).cutoff_window(WindowRule::Decree09),
                window(start, end),
                "Q{number}"
            );
        }
    }

    #[test]
    fn decree09_half_nine_month_and_annual_windows() {
        let rule = WindowRule::Decree09;
        assert_eq!(
            half(2025, 1).cutoff_window(rule),
            window(date!(2024 - 12 - 15), date!(2025 - 06 - 14))
        );
        assert_eq!(
            half(2025, 2).cutoff_window(rule),
            window(date!(2025 - 06 - 15), date!(2025 - 12 - 14))
        );
        assert_eq!(
            Period::NineMonths { year: 2025 }.cutoff_window(rule),
            window(date!(2024 - 12 - 15), date!(2025 - 09 - 14))
        );
        assert_eq!(
            Period::Year { year: 2025 }.cutoff_window(rule),
            window(date!(2024 - 12 - 15), date!(2025 - 12 - 14))
        );
    }

    // ----- Calendar windows -----

    #[test]
    fn calendar_windows_use_whole_months() {
        let rule = WindowRule::Calendar;
        assert_eq!(
            month(2025, 9).cutoff_window(rule),
            window(date!(2025 - 09 - 01), date!(2025 - 09 - 30))
        );
        assert_eq!(
            month(2025, 2).cutoff_window(rule),
            window(date!(2025 - 02 - 01), date!(2025 - 02 - 28))
        );
        assert_eq!(
            month(2024, 2).cutoff_window(rule),
            window(date!(2024 - 02 - 01), date!(2024 - 02 - 29))
        );
        assert_eq!(
            month(2025, 12).cutoff_window(rule),
            window(date!(2025 - 12 - 01), date!(2025 - 12 - 31))
        );
        assert_eq!(
            quarter(2025, 3).cutoff_window(rule),
            window(date!(2025 - 07 - 01), date!(2025 - 09 - 30))
        );
        assert_eq!(
            half(2025, 1).cutoff_window(rule),
            window(date!(2025 - 01 - 01), date!(2025 - 06 - 30))
        );
        assert_eq!(
            half(2025, 2).cutoff_window(rule),
            window(date!(2025 - 07 - 01), date!(2025 - 12 - 31))
        );
        assert_eq!(
            Period::NineMonths { year: 2025 }.cutoff_window(rule),
            window(date!(2025 - 01 - 01), date!(2025 - 09 - 30))
        );
        assert_eq!(
            Period::Year { year: 2025 }.cutoff_window(rule),
            window(date!(2025 - 01 - 01), date!(2025 - 12 - 31))
        );
    }

    #[test]
    fn ad_hoc_day_window_is_the_day_under_either_rule() {
        let day = Period::Day(date!(2025 - 09 - 20));
        for rule in [WindowRule::Decree09, WindowRule::Calendar] {
            assert_eq!(
                day.cutoff_window(rule),
                window(date!(2025 - 09 - 20), date!(2025 - 09 - 20))
            );
        }
        assert_eq!(day.periodicity(), Periodicity::AdHoc);
    }

    #[test]
    fn window_contains_both_ends_and_nothing_outside() {
        let september = month(2025, 9).cutoff_window(WindowRule::Decree09);
        assert!(september.contains(date!(2025 - 08 - 15)));
        assert!(september.contains(date!(2025 - 09 - 14)));
        assert!(!september.contains(date!(2025 - 08 - 14)));
        assert!(!september.contains(date!(2025 - 09 - 15)));
    }

    #[test]
    fn default_rule_is_decree09() {
        assert_eq!(WindowRule::default(), WindowRule::Decree09);
    }

    // ----- Ids: display and parse -----

    #[test]
    fn display_uses_the_readable_ids() {
        let cases = [
            (month(2025, 9), "2025-09"),
            (quarter(2025, 3), "2025-Q3"),
            (half(2025, 1), "2025-H1"),
            (half(2025, 2), "2025-H2"),
            (Period::NineMonths { year: 2025 }, "2025-9M"),
            (Period::Year { year: 2025 }, "2025"),
            (Period::Day(date!(2025 - 09 - 20)), "2025-09-20"),
            (month(1900, 1), "1900-01"),
            (Period::Day(date!(9999 - 12 - 31)), "9999-12-31"),
        ];
        for (period, id) in cases {
            assert_eq!(period.to_string(), id);
            assert_eq!(parse(id), Ok(period), "parsing {id}");
        }
    }

    #[test]
    fn parse_rejects_malformed_ids_with_the_right_kind() {
        use PeriodParseErrorKind::*;
        let cases = [
            ("2025-13", MonthOutOfRange),
            ("2025-00", MonthOutOfRange),
            ("2025-Q5", QuarterOutOfRange),
            ("2025-Q0", QuarterOutOfRange),
            ("2025-H3", HalfOutOfRange),
            ("2025-H0", HalfOutOfRange),
            ("2025-09-31", DayOutOfRange),
            ("2025-02-29", DayOutOfRange),
            ("2025-09-00", DayOutOfRange),
            ("2025-13-01", MonthOutOfRange),
            ("1899", YearOutOfRange),
            ("0000-01", YearOutOfRange),
            ("1899-12-31", YearOutOfRange),
            ("2025-9", UnrecognisedForm),
            (" 2025", UnrecognisedForm),
            ("2025 ", UnrecognisedForm),
            ("", UnrecognisedForm),
            ("202", UnrecognisedForm),
            ("20250", UnrecognisedForm),
            ("10000", UnrecognisedForm),
            ("+2025", UnrecognisedForm),
            ("-2025", UnrecognisedForm),
            ("2025-q3", UnrecognisedForm),
            ("2025-h1", UnrecognisedForm),
            ("2025-9m", UnrecognisedForm),
            ("2025-QA", UnrecognisedForm),
            ("2025-Q10", UnrecognisedForm),
            ("2025-09-1", UnrecognisedForm),
            ("2025-09-20T00:00", UnrecognisedForm),
            ("2025/09", UnrecognisedForm),
            ("2025-M9", UnrecognisedForm),
            ("２０２５", UnrecognisedForm),
            ("2025-０9", UnrecognisedForm),
        ];
        for (id, kind) in cases {
            match parse(id) {
                Ok(period) => panic!("{id:?} parsed as {period:?}"),
                Err(error) => assert_eq!(error.kind(), kind, "{id:?}: {error}"),
            }
        }
    }

    #[test]
    fn parse_error_message_names_the_input_and_accepted_forms() {
        let message = parse("2025-13").expect_err("month 13 is invalid").to_string();
        for fragment in [
            "\"2025-13\"",
            "month must be 01..=12",
            "YYYY-MM",
            "YYYY-Qn",
            "YYYY-Hn",
            "YYYY-9M",
            "YYYY-MM-DD",
            "1900..=9999",
        ] {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn parse_error_truncates_huge_inputs() {
        let huge = "9".repeat(10_000);
        let error = parse(&huge).expect_err("not a period id");
        assert!(error.input().chars().count() <= 33);
        assert!(error.to_string().len() < 1_000);
    }

    #[test]
    fn serde_uses_the_id_string() {
        let period = quarter(2025, 3);
        let json = serde_json::to_string(&period).expect("serializes");
        assert_eq!(json, "\"2025-Q3\"");
        let back: Period = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, period);
        let day: Period = serde_json::from_str("\"2025-09-20\"").expect("deserializes");
        assert_eq!(day, Period::Day(date!(2025 - 09 - 20)));
        assert!(serde_json::from_str::<Period>("\"2025-13\"").is_err());
        assert!(serde_json::from_str::<Period>("2025").is_err());
        assert!(serde_json::from_str::<Period>("null").is_err());
    }

    // ----- Stepping -----

    #[test]
    fn next_and_previous_cross_year_boundaries() {
        assert_eq!(month(2025, 12).next(), month(2026, 1));
        assert_eq!(month(2025, 1).previous(), month(2024, 12));
        assert_eq!(quarter(2025, 4).next(), quarter(2026, 1));
        assert_eq!(quarter(2025, 1).previous(), quarter(2024, 4));
        assert_eq!(half(2025, 2).next(), half(2026, 1));
        assert_eq!(half(2025, 1).previous(), half(2024, 2));
        assert_eq!(
            Period::NineMonths { year: 2025 }.next(),
            Period::NineMonths { year: 2026 }
        );
        assert_eq!(
            Period::Year { year: 2025 }.previous(),
            Period::Year { year: 2024 }
        );
        assert_eq!(
            Period::Day(date!(2025 - 12 - 31)).next(),
            Period::Day(date!(2026 - 01 - 01))
        );
        assert_eq!(
            Period::Day(date!(2024 - 03 - 01)).previous(),
            Period::Day(date!(2024 - 02 - 29))
        );
    }

    #[test]
    fn stepping_stops_at_the_supported_range_ends() {
        assert_eq!(month(9999, 12).next(), month(9999, 12));
        assert_eq!(month(1900, 1).previous(), month(1900, 1));
        assert_eq!(Period::Year { year: 9999 }.next(), Period::Year { year: 9999 });
        assert_eq!(
            Period::Day(date!(9999 - 12 - 31)).next(),
            Period::Day(date!(9999 - 12 - 31))
        );
        assert_eq!(
            Period::Day(date!(1900 - 01 - 01)).previous(),
            Period::Day(date!(1900 - 01 - 01))
        );
    }

    #[test]
    fn through_lists_consecutive_periods() {
        let listed: Vec<Period> = month(2025, 11).through(month(2026, 2)).collect();
        assert_eq!(
            listed,
            [month(2025, 11), month(2025, 12), month(2026, 1), month(2026, 2)]
        );
        assert_eq!(
            quarter(2025, 3).through(quarter(2025, 3)).collect::<Vec<_>>(),
            [quarter(2025, 3)]
        );
        assert_eq!(month(2026, 2).through(month(2025, 11)).count(), 0);
        assert_eq!(month(2025, 1).through(quarter(2025, 4)).count(), 0);
        assert_eq!(
            Period::Day(date!(2024 - 02 - 28))
                .through(Period::Day(date!(2024 - 03 - 01)))
                .count(),
            3
        );
        assert_eq!(month(1900, 1).through(month(9999, 12)).count(), 8100 * 12);
    }

    // ----- Finding the period for a date -----

    #[test]
    fn containing_follows_the_decree09_cut_off_day() {
        let rule = WindowRule::Decree09;
        let find = |periodicity, date| Period::containing(periodicity, rule, date);
        assert_eq!(
            find(Periodicity::Monthly, date!(2025 - 09 - 14)),
            Some(month(2025, 9))
        );
        assert_eq!(
            find(Periodicity::Monthly, date!(2025 - 09 - 15)),
            Some(month(2025, 10))
        );
        assert_eq!(
            find(Periodicity::Monthly, date!(2024 - 12 - 15)),
            Some(month(2025, 1))
        );
        assert_eq!(
            find(Periodicity::Monthly, date!(2024 - 12 - 14)),
            Some(month(2024, 12))
        );
        assert_eq!(
            find(Periodicity::Quarterly, date!(2024 - 12 - 15)),
            Some(quarter(2025, 1))
        );
        assert_eq!(
            find(Periodicity::Quarterly, date!(2025 - 03 - 15)),
            Some(quarter(2025, 2))
        );
        assert_eq!(
            find(Periodicity::Semiannual, date!(2025 - 06 - 14)),
            Some(half(2025, 1))
        );
        assert_eq!(
            find(Periodicity::Semiannual, date!(2025 - 06 - 15)),
            Some(half(2025, 2))
        );
        assert_eq!(
            find(Periodicity::NineMonth, date!(2025 - 09 - 14)),
            Some(Period::NineMonths { year: 2025 })
        );
        assert_eq!(find(Periodicity::NineMonth, date!(2025 - 09 - 15)), None);
        assert_eq!(find(Periodicity::NineMonth, date!(2025 - 12 - 14)), None);
        assert_eq!(
            find(Periodicity::NineMonth, date!(2025 - 12 - 15)),
            Some(Period::NineMonths { year: 2026 })
        );
        assert_eq!(
            find(Periodicity::Annual, date!(2025 - 12 - 15)),
            Some(Period::Year { year: 2026 })
        );
        assert_eq!(
            find(Periodicity::AdHoc, date!(2025 - 12 - 15)),
            Some(Period::Day(date!(2025 - 12 - 15)))
        );
        // The period would be January 10000, which has no id.
        assert_eq!(find(Periodicity::Monthly, date!(9999 - 12 - 15)), None);
        assert_eq!(
            find(Periodicity::Monthly, date!(1899 - 12 - 15)),
            Some(month(1900, 1))
        );
        assert_eq!(find(Periodicity::AdHoc, date!(1899 - 12 - 31)), None);
    }

    #[test]
    fn containing_on_calendar_windows() {
        let rule = WindowRule::Calendar;
        let find = |periodicity, date| Period::containing(periodicity, rule, date);
        assert_eq!(
            find(Periodicity::Monthly, date!(2025 - 12 - 31)),
            Some(month(2025, 12))
        );
        assert_eq!(
            find(Periodicity::Quarterly, date!(2025 - 07 - 01)),
            Some(quarter(2025, 3))
        );
        assert_eq!(
            find(Periodicity::NineMonth, date!(2025 - 09 - 30)),
            Some(Period::NineMonths { year: 2025 })
        );
        assert_eq!(find(Periodicity::NineMonth, date!(2025 - 10 - 01)), None);
        assert_eq!(
            find(Periodicity::Annual, date!(2025 - 12 - 31)),
            Some(Period::Year { year: 2025 })
        );
    }

    // ----- Deadlines -----

    #[test]
    fn deadline_is_midnight_vietnam_time_after_the_last_day() {
        let september = month(2025, 9);
        assert_eq!(
            september.deadline_date(WindowRule::Decree09, 5),
            date!(2025 - 09 - 19)
        );
        assert_eq!(
            september.deadline(WindowRule::Decree09, 5),
            datetime!(2025 - 09 - 20 00:00 +07:00)
        );
        assert_eq!(
            september.deadline(WindowRule::Decree09, 5),
            datetime!(2025 - 09 - 19 17:00 UTC)
        );
        assert_eq!(
            september.deadline(WindowRule::Decree09, 0),
            datetime!(2025 - 09 - 15 00:00 +07:00)
        );
        assert_eq!(
            quarter(2025, 4).deadline_date(WindowRule::Calendar, 20),
            date!(2026 - 01 - 20)
        );
    }

    #[test]
    fn vietnam_date_switches_at_17_00_utc() {
        assert_eq!(
            vietnam_date(datetime!(2025 - 09 - 19 16:59:59 UTC)),
            date!(2025 - 09 - 19)
        );
        assert_eq!(
            vietnam_date(datetime!(2025 - 09 - 19 17:00 UTC)),
            date!(2025 - 09 - 20)
        );
        assert_eq!(
            vietnam_date(datetime!(2025 - 09 - 19 12:00 -05:00)),
            date!(2025 - 09 - 20)
        );
        assert_eq!(VIETNAM_OFFSET.whole_hours(), 7);
        assert_eq!(VIETNAM_OFFSET.minutes_past_hour(), 0);
    }

    #[test]
    fn nothing_panics_at_the_representable_limits() {
        let limit_instants = [
            OffsetDateTime::new_in_offset(Date::MAX, Time::MAX, UtcOffset::UTC),
            OffsetDateTime::new_in_offset(Date::MIN, Time::MIDNIGHT, VIETNAM_OFFSET),
            OffsetDateTime::new_in_offset(Date::MAX, Time::MAX, time::macros::offset!(-23:59)),
        ];
        for instant in limit_instants {
            let _ = vietnam_date(instant);
        }
        assert_eq!(
            vietnam_date(OffsetDateTime::new_in_offset(
                Date::MAX,
                Time::MAX,
                UtcOffset::UTC
            )),
            Date::MAX
        );

        let hand_built = [
            Period::Month {
                year: i32::MAX,
                month: 200,
            },
            Period::Month {
                year: i32::MIN,
                month: 0,
            },
            Period::Quarter {
                year: i32::MIN,
                quarter: 0,
            },
            Period::Quarter {
                year: i32::MAX,
                quarter: 9,
            },
            Period::Half {
                year: -50_000,
                half: 7,
            },
            Period::NineMonths { year: i32::MAX },
            Period::Year { year: i32::MIN },
            Period::Day(Date::MAX),
            Period::Day(Date::MIN),
        ];
        for period in hand_built {
            // Date::MAX is 9999-12-31 unless time's large-dates feature is on.
            let supported_years = MIN_SUPPORTED_YEAR..=MAX_SUPPORTED_YEAR;
            let expected_valid =
                matches!(period, Period::Day(date) if supported_years.contains(&date.year()));
            assert_eq!(period.is_valid(), expected_valid, "{period:?}");
            for rule in [WindowRule::Decree09, WindowRule::Calendar] {
                let window = period.cutoff_window(rule);
                assert!(window.start <= window.end, "{period:?} {rule:?}");
                let _ = period.deadline(rule, u16::MAX);
            }
            let _ = (period.next(), period.previous(), period.to_string());
            let _ = period.through(period.next()).take(3).count();
        }
        assert_eq!(
            Period::Month { year: 2025, month: 0 }.cutoff_window(WindowRule::Calendar),
            month(2025, 1).cutoff_window(WindowRule::Calendar)
        );
        for rule in [WindowRule::Decree09, WindowRule::Calendar] {
            for periodicity in Periodicity::ALL {
                let _ = Period::containing(periodicity, rule, Date::MAX);
                let _ = Period::containing(periodicity, rule, Date::MIN);
            }
        }
    }

    // ----- Property tests -----

    const FIRST_SUPPORTED_DAY: Date = date!(1900 - 01 - 01);
    const LAST_SUPPORTED_DAY: Date = date!(9999 - 12 - 31);

    fn any_rule() -> impl Strategy<Value = WindowRule> {
        prop_oneof![Just(WindowRule::Decree09), Just(WindowRule::Calendar)]
    }

    fn any_periodicity() -> impl Strategy<Value = Periodicity> {
        proptest::sample::select(Periodicity::ALL.to_vec())
    }

    fn supported_day_between(first: Date, last: Date) -> impl Strategy<Value = Date> {
        (first.to_julian_day()..=last.to_julian_day())
            .prop_map(|julian_day| Date::from_julian_day(julian_day).expect("within Date's range"))
    }

    fn any_supported_day() -> impl Strategy<Value = Date> {
        supported_day_between(FIRST_SUPPORTED_DAY, LAST_SUPPORTED_DAY)
    }

    /// Periods of `periodicity` whose year lies in `years`.
    fn period_of(periodicity: Periodicity, years: std::ops::RangeInclusive<i32>) -> BoxedStrategy<Period> {
        match periodicity {
            Periodicity::Monthly => (years, 1..=12_u8)
                .prop_map(|(year, month)| Period::Month { year, month })
                .boxed(),
            Periodicity::Quarterly => (years, 1..=4_u8)
                .prop_map(|(year, quarter)| Period::Quarter { year, quarter })
                .boxed(),
            Periodicity::Semiannual => (years, 1..=2_u8)
                .prop_map(|(year, half)| Period::Half { year, half })
                .boxed(),
            Periodicity::NineMonth => years.prop_map(|year| Period::NineMonths { year }).boxed(),
            Periodicity::Annual => years.prop_map(|year| Period::Year { year }).boxed(),
            Periodicity::AdHoc => {
                let first = Date::from_ordinal_date(*years.start(), 1).expect("valid year");
                let last = Date::from_ordinal_date(*years.end(), 1)
                    .expect("valid year")
                    .replace_month(Month::December)
                    .and_then(|day| day.replace_day(31))
                    .expect("31 December exists");
                supported_day_between(first, last).prop_map(Period::Day).boxed()
            }
        }
    }

    fn any_supported_period() -> impl Strategy<Value = Period> {
        any_periodicity()
            .prop_flat_map(|periodicity| period_of(periodicity, MIN_SUPPORTED_YEAR..=MAX_SUPPORTED_YEAR))
    }

    /// Periods whose successor is still supported, so stepping is exact.
    fn any_interior_period() -> impl Strategy<Value = Period> {
        any_periodicity().prop_flat_map(|periodicity| {
            period_of(periodicity, MIN_SUPPORTED_YEAR + 1..=MAX_SUPPORTED_YEAR - 1)
        })
    }

    fn disjoint(first: DateWindow, second: DateWindow) -> bool {
        first.end < second.start || second.end < first.start
    }

    proptest! {
        #[test]
        fn parsing_the_display_gives_the_period_back(period in any_supported_period()) {
            prop_assert!(period.is_valid());
            prop_assert_eq!(period.to_string().parse::<Period>(), Ok(period));
            let json = serde_json::to_string(&period).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<Period>(&json).expect("deserializes"), period);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics_and_accepts_only_canonical_ids(text in "\\PC{0,12}") {
            if let Ok(period) = text.parse::<Period>() {
                prop_assert!(period.is_valid());
                prop_assert_eq!(period.to_string(), text);
            }
        }

        #[test]
        fn parsing_id_shaped_text_never_panics(text in "[0-9]{4}(-([0-9QH]{1,2}|[0-9]M|[0-9]{2}-[0-9]{2}))?") {
            if let Ok(period) = text.parse::<Period>() {
                prop_assert_eq!(period.to_string(), text);
            }
        }

        #[test]
        fn month_quarter_and_half_windows_are_contiguous(
            periodicity in proptest::sample::select(vec![
                Periodicity::Monthly,
                Periodicity::Quarterly,
                Periodicity::Semiannual,
            ]),
            rule in any_rule(),
            seed in 0_u32..1_000_000,
        ) {
            // Derive the period from a seed to keep periodicity and period in step.
            let year = MIN_SUPPORTED_YEAR + i32::try_from(seed % 8_099).expect("small");
            let index = u8::try_from(seed % 12).expect("small");
            let period = match periodicity {
                Periodicity::Monthly => month(year, index + 1),
                Periodicity::Quarterly => quarter(year, index % 4 + 1),
                _ => half(year, index % 2 + 1),
            };
            let this_window = period.cutoff_window(rule);
            let next_window = period.next().cutoff_window(rule);
            prop_assert_eq!(Some(next_window.start), this_window.end.next_day());
        }

        #[test]
        fn consecutive_windows_never_overlap(period in any_interior_period(), rule in any_rule()) {
            let this_window = period.cutoff_window(rule);
            let next = period.next();
            prop_assert_ne!(next, period);
            prop_assert_eq!(next.periodicity(), period.periodicity());
            prop_assert_eq!(next.previous(), period);
            prop_assert!(this_window.start <= this_window.end);
            prop_assert!(this_window.end < next.cutoff_window(rule).start);
        }

        #[test]
        fn distinct_periods_of_one_periodicity_have_disjoint_windows(
            (first, second) in any_periodicity().prop_flat_map(|periodicity| {
                // Nearby years so that neighbouring periods are actually compared.
                (2000..=2030_i32).prop_flat_map(move |year| {
                    (period_of(periodicity, year..=year + 1), period_of(periodicity, year..=year + 1))
                })
            }),
            rule in any_rule(),
        ) {
            prop_assume!(first != second);
            prop_assert!(disjoint(first.cutoff_window(rule), second.cutoff_window(rule)));
        }

        #[test]
        fn containing_finds_a_period_whose_window_holds_the_date(
            periodicity in any_periodicity(),
            rule in any_rule(),
            date in any_supported_day(),
        ) {
            match Period::containing(periodicity, rule, date) {
                Some(period) => {
                    prop_assert!(period.is_valid());
                    prop_assert_eq!(period.periodicity(), periodicity);
                    prop_assert!(period.cutoff_window(rule).contains(date));
                }
                None if periodicity == Periodicity::NineMonth => {
                    // Neither the nine months of this year nor of next year
                    // (when supported) cover it.
                    for year in [date.year(), date.year() + 1]
                        .into_iter()
                        .filter(|year| *year <= MAX_SUPPORTED_YEAR)
                    {
                        let window = Period::NineMonths { year }.cutoff_window(rule);
                        prop_assert!(!window.contains(date));
                    }
                }
                None => {
                    // Only the tail of year 9999 belongs to an unsupported year.
                    prop_assert_eq!(rule, WindowRule::Decree09);
                    prop_assert!(date >= date!(9999 - 12 - 15));
                }
            }
        }

        #[test]
        fn containing_a_window_end_gives_the_period_back(
            period in any_supported_period(),
            rule in any_rule(),
        ) {
            let window = period.cutoff_window(rule);
            for date in [window.start, window.end] {
                // The Decree 09 window of January 1900 starts in unsupported 1899
                // but still maps back to January 1900.
                prop_assert_eq!(Period::containing(period.periodicity(), rule, date), Some(period));
            }
        }

        #[test]
        fn decree09_year_is_the_union_of_its_quarters_and_of_its_months(
            year in MIN_SUPPORTED_YEAR..=MAX_SUPPORTED_YEAR,
            rule in any_rule(),
        ) {
            let year_window = Period::Year { year }.cutoff_window(rule);
            for parts in [
                quarter(year, 1).through(quarter(year, 4)).collect::<Vec<_>>(),
                month(year, 1).through(month(year, 12)).collect::<Vec<_>>(),
                half(year, 1).through(half(year, 2)).collect::<Vec<_>>(),
            ] {
                let windows: Vec<DateWindow> =
                    parts.iter().map(|part| part.cutoff_window(rule)).collect();
                prop_assert_eq!(windows.first().map(|w| w.start), Some(year_window.start));
                prop_assert_eq!(windows.last().map(|w| w.end), Some(year_window.end));
                // Contiguous, hence together exactly the year's window.
                for pair in windows.windows(2) {
                    prop_assert_eq!(Some(pair[1].start), pair[0].end.next_day());
                }
            }
            // The nine months are the first three quarters.
            let nine_months = Period::NineMonths { year }.cutoff_window(rule);
            prop_assert_eq!(nine_months.start, year_window.start);
            prop_assert_eq!(nine_months.end, quarter(year, 3).cutoff_window(rule).end);
        }

        #[test]
        fn deadline_falls_after_the_window_end(
            period in any_supported_period(),
            rule in any_rule(),
            days_after_cutoff in 0_u16..=400,
        ) {
            let window_end = period.cutoff_window(rule).end;
            let deadline_date = period.deadline_date(rule, days_after_cutoff);
            let deadline = period.deadline(rule, days_after_cutoff);
            prop_assert!(deadline_date >= window_end);
            let end_of_window = OffsetDateTime::new_in_offset(window_end, Time::MAX, VIETNAM_OFFSET);
            if deadline_date < Date::MAX {
                prop_assert!(deadline > end_of_window);
            } else {
                // On the last representable day the deadline is that day's last moment.
                prop_assert!(deadline >= end_of_window);
            }
            if deadline_date < Date::MAX {
                prop_assert_eq!(
                    deadline_date,
                    window_end.saturating_add(Duration::days(i64::from(days_after_cutoff)))
                );
                prop_assert_eq!(vietnam_date(deadline), deadline_date.next_day().expect("below MAX"));
                prop_assert_eq!(vietnam_date(deadline - Duration::nanoseconds(1)), deadline_date);
            }
        }

        #[test]
        fn through_steps_one_period_at_a_time(period in any_interior_period(), extra in 0_usize..5) {
            let mut last = period;
            for _ in 0..extra {
                let next = last.next();
                // The last supported year is its own successor; stepping must move.
                prop_assume!(next != last);
                last = next;
            }
            let listed: Vec<Period> = period.through(last).collect();
            prop_assert_eq!(listed.len(), extra + 1);
            prop_assert_eq!(listed.first(), Some(&period));
            prop_assert_eq!(listed.last(), Some(&last));
            for pair in listed.windows(2) {
                prop_assert_eq!(pair[0].next(), pair[1]);
            }
            if extra > 0 {
                prop_assert_eq!(last.through(period).count(), 0);
            }
        }
    }
}
