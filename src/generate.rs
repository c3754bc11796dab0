//! Years of reports from every commune organ that owes them, written
//! through the report use cases as the server writes them. The demo uses
//! it at a small size (a sample of communes on the two demo forms since
//! two-tier government began); the analytics bench at full size (five
//! years of every commune on all three forms, about a million values).
//!
//! Three forms can be filled: the two demo forms of [`crate::demo`]
//! (`tthc-monthly`, owed monthly by the 126 People's Committees, and
//! `staffing-quarterly`, owed quarterly by the People's Committees and Party
//! committees), created here with their first period moved back to the
//! start of the history, and `bench-32`, a synthetic monthly form of 32
//! INTEGER indicators owed by all four organs of every commune (the demo
//! forms alone give about 75 000 values in five years; `bench-32` brings the
//! total to about a million).
//!
//! Each report is submitted with `ReportService::submit` under a clock set
//! to the moment it arrives, so lateness, deadlines, revisions, idempotency
//! keys and every index are exactly what a real submission leaves. About
//! 4 % of the reports owed never arrive and about 10 % arrive late (each
//! organ has its own habits around those averages); late reports that would
//! arrive after today are still missing. The owning department accepts most
//! reports a few days to three weeks after they arrive and returns about
//! 3 % with a comment, which the organ answers with an amended revision;
//! about 1 % are corrected by the organ before any review. Figures follow
//! each commune's size, the season (Tết in February), a slow growth and a
//! share of online dossiers that rises over the years, and always satisfy
//! the form's rules.
//!
//! With [`Options::recommendations`] the communes also raise recommendations
//! over the history, which the Department of Home Affairs partly answers and
//! escalates ([`recommendations`]), so cluster rankings and the dossier have
//! years of matters too.
//!
//! Everything follows from the options and today: the same options and day
//! give the same reports, figures and timestamps. Request ids are derived
//! from them too, so filling the same database again replays what is
//! already stored and adds only what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

mod recommendations;

pub use recommendations::SentRecommendations;

use crate::demo::{
    ADMIN_ORGAN, STAFFING_FORM, STAFFING_OWNER, TTHC_FORM, TTHC_OWNER, count_indicator, staffing_form,
    tthc_form, validation_rule,
};
use anyhow::Context as _;
use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::directory::{Organ, OrganKind, hanoi_directory};
use lienthong_domain::form::{Aggregation, Comparison, FormDefinition};
use lienthong_domain::period::{Period, Periodicity, WindowRule, vietnam_date};
use lienthong_domain::report::{RawValue, ReviewDecision, ValueInput};
use lienthong_domain::service::{AmendReport, ReportService, Services, SubmitReport};
use lienthong_domain::store::Store;
use time::{Duration, OffsetDateTime};
use tokio::task::JoinSet;

/// The wide benchmark form.
pub const WIDE_FORM: &str = "bench-32";
/// The office `bench-32` is addressed to, as the socio-economic reports of
/// communes are.
const WIDE_OWNER: &str = "01-city-office";
/// How often filling reports its progress.
const PROGRESS_EVERY: StdDuration = StdDuration::from_secs(15);

/// Average shares of reports owed that never arrive, and of those that
/// arrive, the late ones.
const MISSING_SHARE: f64 = 0.04;
const LATE_SHARE: f64 = 0.10;
/// Of the reports the department reviews, the share it returns.
const RETURNED_SHARE: f64 = 0.03;
/// Of the reports arrived, the share the department has reviewed once three
/// weeks have passed.
const REVIEWED_SHARE: f64 = 0.88;
/// Of the reports arrived, the share the organ corrects before any review.
const CORRECTED_SHARE: f64 = 0.01;

/// A form the generator fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GeneratedForm {
    Tthc,
    Staffing,
    Wide,
}

impl GeneratedForm {
    pub const ALL: [GeneratedForm; 3] = [GeneratedForm::Tthc, GeneratedForm::Staffing, GeneratedForm::Wide];

    pub fn code(self) -> &'static str {
        match self {
            GeneratedForm::Tthc => TTHC_FORM,
            GeneratedForm::Staffing => STAFFING_FORM,
            GeneratedForm::Wide => WIDE_FORM,
        }
    }

    /// The form's definition, owed from the first period of `span`.
    pub fn definition(self, span: &Span) -> FormDefinition {
        let mut definition = match self {
            GeneratedForm::Tthc => tthc_form(),
            GeneratedForm::Staffing => staffing_form(),
            GeneratedForm::Wide => wide_form(),
        };
        definition.first_period = Some(span.first(definition.periodicity));
        definition
    }

    fn kinds(self) -> &'static [OrganKind] {
        match self {
            GeneratedForm::Tthc => &[OrganKind::PeoplesCommittee],
            GeneratedForm::Staffing => &[OrganKind::PeoplesCommittee, OrganKind::PartyCommittee],
            GeneratedForm::Wide => &OrganKind::COMMUNE_ORGANS,
        }
    }

    fn deadline(self, period: Period) -> OffsetDateTime {
        let days = match self {
            GeneratedForm::Tthc | GeneratedForm::Wide => 5,
            GeneratedForm::Staffing => 10,
        };
        period.deadline(WindowRule::Decree09, days)
    }

    fn days_to_report(self) -> i64 {
        match self {
            GeneratedForm::Tthc | GeneratedForm::Wide => 5,
            GeneratedForm::Staffing => 10,
        }
    }

    fn owner(self) -> &'static str {
        match self {
            GeneratedForm::Tthc => TTHC_OWNER,
            GeneratedForm::Staffing => STAFFING_OWNER,
            GeneratedForm::Wide => WIDE_OWNER,
        }
    }

    fn narrative(self) -> &'static str {
        match self {
            GeneratedForm::Tthc => "Tình hình tiếp nhận, giải quyết thủ tục hành chính trong kỳ ổn định.",
            GeneratedForm::Staffing => "Bố trí cán bộ, công chức theo biên chế được giao.",
            GeneratedForm::Wide => "Tình hình kinh tế - xã hội, quốc phòng, an ninh trong tháng.",
        }
    }
}

/// How far back the history reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// This many years of months, and as many of quarters.
    Years(u32),
    /// From this month (and the quarter it falls in) on.
    Since(Period),
}

/// The months and quarters generated, ending with the last month and the
/// last whole quarter up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first_month: Period,
    pub last_month: Period,
    pub first_quarter: Period,
    pub last_quarter: Period,
}

impl Span {
    /// `history` ending with `last_month`, and the quarters from the one
    /// `history` starts in to the last that `last_month` completes or
    /// follows.
    pub fn new(history: History, last_month: Period) -> anyhow::Result<Span> {
        let quarter_of = |period: Period| match period {
            Period::Month { year, month } => Ok(Period::Quarter {
                year,
                quarter: (month - 1) / 3 + 1,
            }),
            other => Err(anyhow::anyhow!("{other} is not a month")),
        };
        let containing = quarter_of(last_month)?;
        let last_quarter = if matches!(last_month, Period::Month { month, .. } if month % 3 == 0) {
            containing
        } else {
            containing.previous()
        };
        let back = |last: Period, count: u32| {
            let mut first = last;
            for _ in 1..count {
                first = first.previous();
            }
            first
        };
        let (first_month, first_quarter) = match history {
            History::Years(years) => {
                anyhow::ensure!(years >= 1, "generate at least one year");
                (back(last_month, years * 12), back(last_quarter, years * 4))
            }
            History::Since(first_month) => {
                let first_quarter = quarter_of(first_month)?;
                anyhow::ensure!(
                    first_quarter <= last_quarter,
                    "{first_month} leaves no whole quarter up to {last_month}"
                );
                (first_month, first_quarter)
            }
        };
        Ok(Span {
            first_month,
            last_month,
            first_quarter,
            last_quarter,
        })
    }

    /// The latest month whose deadline (five days after its cut-off) has
    /// passed at `now`.
    pub fn last_closed_month(now: OffsetDateTime) -> anyhow::Result<Period> {
        let mut month = Period::containing(Periodicity::Monthly, WindowRule::Decree09, vietnam_date(now))
            .context("today is outside the supported periods")?;
        while GeneratedForm::Tthc.deadline(month) > now {
            month = month.previous();
        }
        Ok(month)
    }

    fn first(&self, periodicity: Periodicity) -> Period {
        if periodicity == Periodicity::Quarterly {
            self.first_quarter
        } else {
            self.first_month
        }
    }

    pub fn periods(&self, form: GeneratedForm) -> Vec<Period> {
        match form {
            GeneratedForm::Staffing => self.first_quarter.through(self.last_quarter).collect(),
            GeneratedForm::Tthc | GeneratedForm::Wide => self.first_month.through(self.last_month).collect(),
        }
    }

    /// Months from the first month to the (last month of the) period.
    fn months_in(&self, period: Period) -> f64 {
        let ordinal = |period: Period| match period {
            Period::Month { year, month } => i64::from(year) * 12 + i64::from(month),
            Period::Quarter { year, quarter } => i64::from(year) * 12 + i64::from(quarter) * 3,
            _ => 0,
        };
        (ordinal(period) - ordinal(self.first_month)) as f64
    }
}

/// A clock that stays where it is set: writes through the use cases under
/// it are stamped with the moment the history says they happened.
#[derive(Clone)]
pub(crate) struct SettableClock(Arc<std::sync::Mutex<OffsetDateTime>>);

impl SettableClock {
    pub(crate) fn at(instant: OffsetDateTime) -> SettableClock {
        SettableClock(Arc::new(std::sync::Mutex::new(instant)))
    }

    pub(crate) fn set(&self, instant: OffsetDateTime) {
        // An instant is a plain value: one left by a panic is still whole.
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = instant;
    }

    /// The clock to build use cases with.
    pub(crate) fn clock(&self) -> lienthong_domain::service::Clock {
        let instant = self.0.clone();
        Arc::new(move || *instant.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// A deterministic stream of numbers (SplitMix64) for one key.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// The stream for `parts` under `seed`: FNV-1a over the parts, mixed
    /// with the seed.
    fn new(seed: u64, parts: &[&str]) -> Rng {
        let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
        for part in parts {
            for byte in part.bytes().chain([0xFF]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01B3);
            }
        }
        let mut rng = Rng(hash ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Uniform duration in [low, high) hours.
    fn hours(&mut self, low: f64, high: f64) -> Duration {
        Duration::seconds_f64(self.between(low, high) * 3_600.0)
    }
}

/// What sets one organ apart: its commune's size and its habits.
#[derive(Debug, Clone, Copy)]
struct Profile {
    size: f64,
    missing: f64,
    late: f64,
}

impl Profile {
    fn of(seed: u64, organ: &Organ) -> Profile {
        let mut rng = Rng::new(seed, &["organ", &organ.id]);
        // Commune sizes spread widely; habits around the averages, from a
        // quarter to seven quarters of them.
        let size = rng.between(0.5, 1.8);
        Profile {
            size,
            missing: MISSING_SHARE * rng.between(0.25, 1.75),
            late: LATE_SHARE * rng.between(0.25, 1.75),
        }
    }
}

/// What happens to a report after it arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The organ sends a new revision with corrected figures.
    Amend { at: OffsetDateTime, returned: bool },
    /// The owning department accepts or returns the latest revision.
    Review {
        at: OffsetDateTime,
        decision: ReviewDecision,
    },
}

impl Step {
    fn at(&self) -> OffsetDateTime {
        match *self {
            Step::Amend { at, .. } | Step::Review { at, .. } => at,
        }
    }
}

/// One report: who sends it, for what, when, and what follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub form: GeneratedForm,
    /// Index into the organs the generator was given.
    pub organ: usize,
    pub period: Period,
    pub submitted_at: OffsetDateTime,
    pub late: bool,
    pub steps: Vec<Step>,
}

impl Job {
    /// The number of revisions the report ends with.
    #[cfg(test)]
    pub fn revisions(&self) -> u32 {
        1 + self
            .steps
            .iter()
            .filter(|step| matches!(step, Step::Amend { .. }))
            .count() as u32
    }

    fn request_id(&self, seed: u64, organ: &Organ, what: &str) -> String {
        format!(
            "generate-{seed}-{}-{}-{}-{what}",
            self.form.code(),
            organ.id,
            self.period
        )
    }
}

/// Every report of the span, oldest period first, and how many were owed.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub jobs: Vec<Job>,
    /// Reports owed per form: organs × periods.
    pub owed: BTreeMap<GeneratedForm, u64>,
}

/// Plans the reports `organs` (organs of the commune organ kinds, in the
/// order [`Store::reporting_organs`] lists them) send on `forms` in `span`,
/// as of `now`.
pub fn plan(seed: u64, span: &Span, forms: &[GeneratedForm], organs: &[Organ], now: OffsetDateTime) -> Plan {
    let profiles: Vec<Profile> = organs.iter().map(|organ| Profile::of(seed, organ)).collect();
    let mut owed = BTreeMap::new();
    let mut jobs = Vec::new();
    let mut periods = Vec::new();
    for &form in forms {
        let owing = organs
            .iter()
            .filter(|organ| form.kinds().contains(&organ.kind))
            .count();
        let form_periods = span.periods(form);
        owed.insert(form, (owing * form_periods.len()) as u64);
        periods.extend(
            form_periods
                .into_iter()
                .map(|period| (form.deadline(period), form, period)),
        );
    }
    // Oldest first, so report ids grow with time as they would.
    periods.sort_by_key(|(deadline, form, _)| (*deadline, *form));
    for (deadline, form, period) in periods {
        for (index, organ) in organs.iter().enumerate() {
            if !form.kinds().contains(&organ.kind) {
                continue;
            }
            let profile = profiles[index];
            let period_id = period.to_string();
            let mut rng = Rng::new(seed, &["report", form.code(), &organ.id, &period_id]);
            if rng.chance(profile.missing) {
                continue;
            }
            let late = rng.chance(profile.late);
            let submitted_at = if late {
                deadline + rng.hours(1.0, 30.0 * 24.0)
            } else {
                deadline - rng.hours(1.0, form.days_to_report() as f64 * 24.0)
            };
            if submitted_at > now {
                // Not arrived yet: still missing today.
                continue;
            }
            let mut steps = Vec::new();
            let mut last = submitted_at;
            if rng.chance(CORRECTED_SHARE) {
                let at = last + rng.hours(2.0, 72.0);
                if at <= now {
                    steps.push(Step::Amend { at, returned: false });
                    last = at;
                }
            }
            if rng.chance(REVIEWED_SHARE) {
                let reviewed_at = last + rng.hours(72.0, 20.0 * 24.0);
                let returned = rng.chance(RETURNED_SHARE);
                let amended_at = reviewed_at + rng.hours(48.0, 7.0 * 24.0);
                let accepted_at = amended_at + rng.hours(48.0, 6.0 * 24.0);
                let reviews = if returned {
                    vec![
                        Step::Review {
                            at: reviewed_at,
                            decision: ReviewDecision::Return,
                        },
                        Step::Amend {
                            at: amended_at,
                            returned: true,
                        },
                        Step::Review {
                            at: accepted_at,
                            decision: ReviewDecision::Accept,
                        },
                    ]
                } else {
                    vec![Step::Review {
                        at: reviewed_at,
                        decision: ReviewDecision::Accept,
                    }]
                };
                // What has not happened by today has not happened.
                steps.extend(reviews.into_iter().take_while(|step| step.at() <= now));
            }
            jobs.push(Job {
                form,
                organ: index,
                period,
                submitted_at,
                late,
                steps,
            });
        }
    }
    Plan { jobs, owed }
}

/// How a figure of `bench-32` is made.
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// A flow over the month: about `mean` in an average commune, with the
    /// season and a slow growth.
    Flow { mean: f64 },
    /// A stock at the end of the month, growing slowly.
    Stock { mean: f64 },
    /// `low` to `high` % of the indicator `whole`, which comes earlier;
    /// the form requires `part ≤ whole`.
    PartOf {
        whole: &'static str,
        low: f64,
        high: f64,
    },
}

#[derive(Debug)]
struct Spec {
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    aggregation: Aggregation,
    figure: Figure,
}

const fn flow(code: &'static str, name: &'static str, unit: &'static str, mean: f64) -> Spec {
    Spec {
        code,
        name,
        unit,
        aggregation: Aggregation::Sum,
        figure: Figure::Flow { mean },
    }
}

const fn part(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    aggregation: Aggregation,
    (whole, low, high): (&'static str, f64, f64),
) -> Spec {
    Spec {
        code,
        name,
        unit,
        aggregation,
        figure: Figure::PartOf { whole, low, high },
    }
}

/// The 32 indicators of `bench-32`: 28 flows and parts of flows (SUM) and
/// four stocks (LAST).
const WIDE_INDICATORS: [Spec; 32] = [
    flow("dossiers_received", "Hồ sơ TTHC tiếp nhận", "hồ sơ", 400.0),
    part(
        "dossiers_online",
        "Hồ sơ tiếp nhận trực tuyến",
        "hồ sơ",
        Aggregation::Sum,
        ("dossiers_received", 10.0, 90.0),
    ),
    part(
        "dossiers_on_time",
        "Hồ sơ giải quyết đúng hạn",
        "hồ sơ",
        Aggregation::Sum,
        ("dossiers_received", 85.0, 99.0),
    ),
    part(
        "dossiers_overdue",
        "Hồ sơ giải quyết quá hạn",
        "hồ sơ",
        Aggregation::Sum,
        ("dossiers_received", 0.0, 4.0),
    ),
    flow("feedback_received", "Phản ánh, kiến nghị tiếp nhận", "lượt", 30.0),
    part(
        "feedback_resolved",
        "Phản ánh, kiến nghị đã giải quyết",
        "lượt",
        Aggregation::Sum,
        ("feedback_received", 70.0, 100.0),
    ),
    flow("births_registered", "Đăng ký khai sinh", "trường hợp", 60.0),
    flow("deaths_registered", "Đăng ký khai tử", "trường hợp", 20.0),
    flow("marriages_registered", "Đăng ký kết hôn", "trường hợp", 25.0),
    Spec {
        code: "households",
        name: "Số hộ dân",
        unit: "hộ",
        aggregation: Aggregation::Last,
        figure: Figure::Stock { mean: 8_000.0 },
    },
    part(
        "poor_households",
        "Hộ nghèo",
        "hộ",
        Aggregation::Last,
        ("households", 0.0, 3.0),
    ),
    part(
        "near_poor_households",
        "Hộ cận nghèo",
        "hộ",
        Aggregation::Last,
        ("households", 1.0, 5.0),
    ),
    flow(
        "construction_permits",
        "Giấy phép xây dựng đã cấp",
        "giấy phép",
        30.0,
    ),
    flow(
        "construction_violations",
        "Vi phạm trật tự xây dựng phát hiện",
        "vụ",
        6.0,
    ),
    flow("land_disputes", "Tranh chấp đất đai tiếp nhận", "vụ", 8.0),
    flow("mediation_cases", "Vụ việc hòa giải ở cơ sở", "vụ", 12.0),
    part(
        "mediation_successful",
        "Vụ việc hòa giải thành",
        "vụ",
        Aggregation::Sum,
        ("mediation_cases", 60.0, 95.0),
    ),
    flow("public_order_incidents", "Vụ việc an ninh, trật tự", "vụ", 10.0),
    flow("traffic_accidents", "Tai nạn giao thông", "vụ", 3.0),
    flow("fires", "Vụ cháy", "vụ", 1.0),
    Spec {
        code: "social_allowance_recipients",
        name: "Người hưởng trợ cấp xã hội",
        unit: "người",
        aggregation: Aggregation::Last,
        figure: Figure::Stock { mean: 500.0 },
    },
    flow("meetings_held", "Cuộc họp, hội nghị đã tổ chức", "cuộc", 10.0),
    flow("documents_issued", "Văn bản đã ban hành", "văn bản", 150.0),
    part(
        "documents_signed",
        "Văn bản ký số",
        "văn bản",
        Aggregation::Sum,
        ("documents_issued", 60.0, 100.0),
    ),
    flow("inspections", "Cuộc kiểm tra đã thực hiện", "cuộc", 5.0),
    flow(
        "fines_issued",
        "Quyết định xử phạt vi phạm hành chính",
        "quyết định",
        4.0,
    ),
    flow("vaccinations", "Lượt tiêm chủng", "lượt", 80.0),
    flow("new_businesses", "Hộ kinh doanh đăng ký mới", "hộ", 6.0),
    flow(
        "tax_collected",
        "Thu ngân sách trên địa bàn",
        "triệu đồng",
        1_500.0,
    ),
    flow("budget_spent", "Chi ngân sách xã", "triệu đồng", 1_200.0),
    flow("environmental_complaints", "Phản ánh về môi trường", "lượt", 5.0),
    flow(
        "volunteer_hours",
        "Giờ tình nguyện của đoàn viên, hội viên",
        "giờ",
        300.0,
    ),
];

/// `bench-32`: monthly under Decree 09, owed by all four organs of every
/// commune and ward; first period set by [`GeneratedForm::definition`].
fn wide_form() -> FormDefinition {
    let indicators = WIDE_INDICATORS
        .iter()
        .map(|spec| count_indicator(spec.code, spec.name, spec.unit, spec.aggregation, true))
        .collect();
    let rules = WIDE_INDICATORS
        .iter()
        .filter_map(|spec| match spec.figure {
            Figure::PartOf { whole, .. } => Some(validation_rule(
                spec.code,
                Comparison::LessOrEqual,
                whole,
                &format!("{} không được vượt quá {whole}", spec.code),
            )),
            Figure::Flow { .. } | Figure::Stock { .. } => None,
        })
        .collect();
    FormDefinition {
        title: "Báo cáo tình hình kinh tế - xã hội cấp xã (dữ liệu kiểm thử phân tích)".to_owned(),
        description: "Ba mươi hai chỉ tiêu hằng tháng của các cơ quan cấp xã, dùng để đo tốc độ phân tích."
            .to_owned(),
        owner_organ: WIDE_OWNER.to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 5,
        reporting_organ_kinds: OrganKind::COMMUNE_ORGANS.to_vec(),
        first_period: None,
        indicators,
        rules,
    }
}

/// The month of the year a period ends in.
fn month_of(period: Period) -> u8 {
    match period {
        Period::Month { month, .. } => month,
        Period::Quarter { quarter, .. } => quarter * 3,
        _ => 12,
    }
}

/// Seasonal factor of monthly flows: fewer dossiers around Tết, more
/// before the year closes.
fn season(month: u8) -> f64 {
    match month {
        1 => 0.95,
        2 => 0.7,
        3 => 1.05,
        11 | 12 => 1.15,
        _ => 1.0,
    }
}

fn whole(number: f64) -> i64 {
    number.round().max(0.0) as i64
}

fn integer(code: &str, value: i64) -> ValueInput {
    ValueInput {
        indicator_code: code.to_owned(),
        value: Some(RawValue::Integer(value)),
    }
}

/// The figures of revision `revision` of `job`'s report from `organ`.
/// Corrections draw the figures again around the same levels.
pub fn values(seed: u64, span: &Span, job: &Job, organ: &Organ, revision: u32) -> Vec<ValueInput> {
    let profile = Profile::of(seed, organ);
    let period_id = job.period.to_string();
    let revision_id = revision.to_string();
    let mut rng = Rng::new(
        seed,
        &["values", job.form.code(), &organ.id, &period_id, &revision_id],
    );
    let months = span.months_in(job.period);
    let growth = 1.0 + 0.03 * months / 12.0;
    match job.form {
        GeneratedForm::Tthc => {
            let received = profile.size * 1_060.0 * season(month_of(job.period)) * growth;
            let received = whole(received * rng.between(0.88, 1.12));
            let online_share = (0.14 + 0.011 * months + rng.between(-0.04, 0.04)).clamp(0.0, 0.95);
            let mut values = vec![
                integer("dossiers_received", received),
                integer("dossiers_online", (received as f64 * online_share).floor() as i64),
                integer(
                    "dossiers_resolved_on_time",
                    (received as f64 * rng.between(0.86, 0.99)).floor() as i64,
                ),
                integer(
                    "dossiers_overdue",
                    (received as f64 * rng.between(0.0, 0.03)).floor() as i64,
                ),
            ];
            if rng.chance(0.95) {
                values.push(integer(
                    "citizen_feedback_received",
                    whole(28.0 * profile.size * rng.between(0.6, 1.4)),
                ));
            }
            if rng.chance(0.9) {
                values.push(integer(
                    "digitally_signed_documents",
                    whole(1_800.0 * profile.size * growth * rng.between(0.85, 1.15)),
                ));
            }
            values
        }
        GeneratedForm::Staffing => {
            // The quota is the organ's own and changes rarely.
            let mut organ_rng = Rng::new(seed, &["quota", &organ.id]);
            let quota = if organ.kind == OrganKind::PeoplesCommittee {
                whole(organ_rng.between(68.0, 84.0))
            } else {
                whole(organ_rng.between(8.0, 15.0))
            };
            let mut values = vec![
                integer("staffing_quota", quota),
                integer("staff_in_post", quota - whole(rng.between(0.0, 6.0))),
            ];
            if rng.chance(0.85) {
                values.push(integer("transferred_in", whole(rng.between(0.0, 3.0))));
            }
            if rng.chance(0.9) {
                values.push(integer(
                    "key_post_vacancies",
                    whole(rng.between(0.0, 3.5)).min(quota),
                ));
            }
            if rng.chance(0.8) {
                let people = whole(rng.between(0.0, 4.0));
                values.push(integer("entitlements_settled_people", people));
                values.push(ValueInput {
                    indicator_code: "entitlements_settled_vnd".to_owned(),
                    value: Some(RawValue::MoneyVnd(
                        people * whole(rng.between(800.0, 1_200.0)) * 1_000_000,
                    )),
                });
            }
            values
        }
        GeneratedForm::Wide => {
            let mut figures: Vec<(&str, i64)> = Vec::with_capacity(WIDE_INDICATORS.len());
            for spec in &WIDE_INDICATORS {
                let figure = match spec.figure {
                    Figure::Flow { mean } => whole(
                        mean * profile.size * season(month_of(job.period)) * growth * rng.between(0.8, 1.2),
                    ),
                    Figure::Stock { mean } => {
                        // The level is the organ's; the month moves it a little.
                        let mut organ_rng = Rng::new(seed, &["stock", spec.code, &organ.id]);
                        let level = mean * profile.size * organ_rng.between(0.9, 1.1);
                        whole(level * (1.0 + 0.012 * months / 12.0) * rng.between(0.995, 1.005))
                    }
                    Figure::PartOf { whole: of, low, high } => {
                        let whole_figure = figures
                            .iter()
                            .find(|(code, _)| *code == of)
                            .map_or(0, |(_, figure)| *figure);
                        (whole_figure as f64 * rng.between(low, high) / 100.0).floor() as i64
                    }
                };
                figures.push((spec.code, figure));
            }
            figures
                .into_iter()
                .map(|(code, figure)| integer(code, figure))
                .collect()
        }
    }
}

/// How to fill a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub history: History,
    /// The last month; `None` for the latest whose deadline has passed.
    pub through: Option<Period>,
    pub seed: u64,
    pub forms: Vec<GeneratedForm>,
    /// Reports come from every n-th commune in code order; 1 for all.
    pub every_nth_commune: usize,
    /// Reports written at once.
    pub concurrency: u32,
    /// Also send recommendations over the history
    /// ([`recommendations::send`]).
    pub recommendations: bool,
}

/// What filling wrote.
#[derive(Debug, Clone)]
pub struct Filled {
    pub span: Span,
    pub owed: BTreeMap<GeneratedForm, u64>,
    /// Reports per form.
    pub reports: BTreeMap<GeneratedForm, u64>,
    pub late: u64,
    pub amendments: u64,
    pub accepted: u64,
    pub returned: u64,
    /// Values of the reports' latest revisions.
    pub values: u64,
    /// Values of every revision: the rows of `report_values`.
    pub value_rows: u64,
    /// Use-case calls: submissions, amendments and reviews.
    pub writes: u64,
    pub elapsed: StdDuration,
    pub concurrency: u32,
    pub recommendations: SentRecommendations,
}

impl Filled {
    pub fn report_count(&self) -> u64 {
        self.reports.values().sum()
    }

    pub fn owed_count(&self) -> u64 {
        self.owed.values().sum()
    }
}

/// Fills the store as of `now`: the Hanoi directory, the forms (created
/// when missing; a form that exists must already be owed from the first
/// period) and the reports of [`plan`], written through the use cases with
/// `concurrency` reports in flight. The submitters' tokens are revoked once
/// the reports are written.
pub async fn fill(store: Arc<dyn Store>, options: &Options, now: OffsetDateTime) -> anyhow::Result<Filled> {
    let last_month = match options.through {
        Some(month) => month,
        None => Span::last_closed_month(now)?,
    };
    let span = Span::new(options.history, last_month)?;
    let services = Services::new(store.clone(), Arc::new(move || now));
    services
        .directory
        .import(&hanoi_directory())
        .await
        .context("importing the Hanoi directory")?;
    install_forms(store.as_ref(), &services, &options.forms, &span).await?;

    let organs = sample_communes(
        store
            .reporting_organs(&OrganKind::COMMUNE_ORGANS)
            .await
            .context("listing the commune organs")?,
        options.every_nth_commune,
    );
    let organs: Vec<Organ> = organs
        .into_iter()
        .filter(|organ| {
            options
                .forms
                .iter()
                .any(|form| form.kinds().contains(&organ.kind))
        })
        .collect();
    let mut reviewers = BTreeMap::new();
    for &form in &options.forms {
        reviewers.insert(
            form,
            acting_as(store.as_ref(), form.owner(), Role::Reviewer).await?,
        );
    }
    let mut submitters = Vec::with_capacity(organs.len());
    for organ in &organs {
        let issued = services
            .tokens
            .issue(&organ.id, &[Role::Submitter], "report generator", None)
            .await
            .with_context(|| format!("issuing a token for {}", organ.id))?;
        submitters.push(Principal {
            token_id: issued.record.id,
            organ: organ.clone(),
            roles: vec![Role::Submitter],
        });
    }
    let plan = plan(options.seed, &span, &options.forms, &organs, now);
    tracing::info!(
        reports = plan.jobs.len(),
        from = %span.first_month,
        to = %span.last_month,
        in_flight = options.concurrency,
        "writing reports"
    );
    let token_ids: Vec<i64> = submitters.iter().map(|submitter| submitter.token_id).collect();
    let shared = Arc::new(Shared {
        store: store.clone(),
        seed: options.seed,
        span,
        jobs: plan.jobs,
        submitters,
        reviewers,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
    });
    let written = write_all(shared, plan.owed, options.concurrency).await;
    for token_id in token_ids {
        services
            .tokens
            .revoke(token_id)
            .await
            .with_context(|| format!("revoking the generator's token {token_id}"))?;
    }
    let mut filled = written?;
    if options.recommendations {
        filled.recommendations = recommendations::send(store, options.seed, &filled.span, &organs, now)
            .await
            .context("sending recommendations")?;
    }
    Ok(filled)
}

/// Every n-th commune's organs, communes in code order.
fn sample_communes(organs: Vec<Organ>, every_nth: usize) -> Vec<Organ> {
    let mut communes: Vec<&str> = organs.iter().map(|organ| organ.locality_code.as_str()).collect();
    communes.sort_unstable();
    communes.dedup();
    let kept: BTreeSet<String> = communes
        .into_iter()
        .step_by(every_nth.max(1))
        .map(str::to_owned)
        .collect();
    organs
        .into_iter()
        .filter(|organ| kept.contains(&organ.locality_code))
        .collect()
}

/// Writes the planned reports with `concurrency` in flight.
async fn write_all(
    shared: Arc<Shared>,
    owed: BTreeMap<GeneratedForm, u64>,
    concurrency: u32,
) -> anyhow::Result<Filled> {
    let started = Instant::now();
    let mut running = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let shared = shared.clone();
        running.spawn(async move { shared.work().await });
    }
    let mut tally = Tally::default();
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                tally.merge(joined.context("a writing task panicked")??);
            }
            _ = ticker.tick() => {
                let done = shared.done.load(Ordering::Relaxed);
                tracing::info!(
                    reports = done,
                    of = shared.jobs.len(),
                    per_second = (done as f64 / started.elapsed().as_secs_f64()).round(),
                    "writing reports"
                );
            }
        }
    }
    let elapsed = started.elapsed();
    if !tally.errors.is_empty() {
        let errors: Vec<String> = tally
            .errors
            .iter()
            .map(|(error, count)| format!("{count} × {error}"))
            .collect();
        anyhow::bail!("writing reports failed:\n  {}", errors.join("\n  "));
    }
    Ok(Filled {
        span: shared.span,
        owed,
        reports: tally.reports,
        late: tally.late,
        amendments: tally.amendments,
        accepted: tally.accepted,
        returned: tally.returned,
        values: tally.values,
        value_rows: tally.value_rows,
        writes: tally.writes,
        elapsed,
        concurrency,
        recommendations: SentRecommendations::default(),
    })
}

/// An organ of the directory acting in-process with `role`
/// ([`Principal::in_process`]), as the demo and the generator act.
pub async fn acting_as(store: &dyn Store, organ_id: &str, role: Role) -> lienthong_domain::Result<Principal> {
    let organ = store.get_organ(organ_id).await?.ok_or_else(|| {
        lienthong_domain::Error::internal(format!("{organ_id} is missing from the directory"))
    })?;
    Ok(Principal::in_process(organ, role))
}

/// Creates and publishes the forms that do not exist; refuses one that
/// exists but is owed from a later period than the history starts.
async fn install_forms(
    store: &dyn Store,
    services: &Services,
    forms: &[GeneratedForm],
    span: &Span,
) -> anyhow::Result<()> {
    let admin = acting_as(store, ADMIN_ORGAN, Role::Admin).await?;
    for &form in forms {
        let definition = form.definition(span);
        let code = form.code();
        match store.get_form(code).await? {
            None => {
                services
                    .forms
                    .create_form(&admin, code, definition)
                    .await
                    .with_context(|| format!("creating the form {code}"))?;
                services
                    .forms
                    .publish_form(&admin, code)
                    .await
                    .with_context(|| format!("publishing the form {code}"))?;
            }
            Some(existing) => {
                let published = store
                    .get_form_version(code, existing.latest_version)
                    .await?
                    .with_context(|| format!("the form {code} exists but was never published"))?;
                let first = published.definition.first_period;
                anyhow::ensure!(
                    first.is_some_and(|first| Some(first) <= definition.first_period),
                    "the form {code} in this database is owed from {}, after the generated history \
                     starts ({}); generate into a new database",
                    first.map_or_else(|| "no period".to_owned(), |first| first.to_string()),
                    definition
                        .first_period
                        .map_or_else(String::new, |first| first.to_string()),
                );
            }
        }
    }
    Ok(())
}

/// What the writing tasks share.
struct Shared {
    store: Arc<dyn Store>,
    seed: u64,
    span: Span,
    jobs: Vec<Job>,
    /// Parallel to the organs the plan was made for.
    submitters: Vec<Principal>,
    reviewers: BTreeMap<GeneratedForm, Principal>,
    next: AtomicUsize,
    done: AtomicUsize,
}

#[derive(Debug, Default)]
struct Tally {
    reports: BTreeMap<GeneratedForm, u64>,
    late: u64,
    amendments: u64,
    accepted: u64,
    returned: u64,
    values: u64,
    value_rows: u64,
    writes: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (form, count) in other.reports {
            *self.reports.entry(form).or_default() += count;
        }
        self.late += other.late;
        self.amendments += other.amendments;
        self.accepted += other.accepted;
        self.returned += other.returned;
        self.values += other.values;
        self.value_rows += other.value_rows;
        self.writes += other.writes;
        for (error, count) in other.errors {
            *self.errors.entry(error).or_default() += count;
        }
    }
}

/// The report use cases with the clock stopped at `at`.
fn reports_at(store: &Arc<dyn Store>, at: OffsetDateTime) -> ReportService {
    ReportService::new(store.clone(), Arc::new(move || at))
}

impl Shared {
    /// Takes reports off the plan until none are left.
    async fn work(self: Arc<Self>) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = self.jobs.get(index) else {
                return Ok(tally);
            };
            if let Err(error) = self.write(job, &mut tally).await {
                *tally.errors.entry(format!("{error:#}")).or_default() += 1;
            }
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Submits one report, then amends and reviews it as planned.
    async fn write(&self, job: &Job, tally: &mut Tally) -> anyhow::Result<()> {
        let submitter = &self.submitters[job.organ];
        let organ = &submitter.organ;
        let first_values = values(self.seed, &self.span, job, organ, 1);
        let submitted = reports_at(&self.store, job.submitted_at)
            .submit(
                submitter,
                SubmitReport {
                    organ_id: organ.id.clone(),
                    form_code: job.form.code().to_owned(),
                    form_version: 0,
                    period: job.period.to_string(),
                    values: first_values,
                    narrative: job.form.narrative().to_owned(),
                    request_id: job.request_id(self.seed, organ, "submit"),
                },
            )
            .await?;
        // As stored: a PERCENT left empty is computed from its parts.
        let mut value_count = submitted.revision.values.len() as u64;
        tally.writes += 1;
        tally.value_rows += value_count;
        *tally.reports.entry(job.form).or_default() += 1;
        if submitted.revision.late {
            tally.late += 1;
        }
        let report_id = submitted.report_id;
        let mut revision = 1_u32;
        for (index, step) in job.steps.iter().enumerate() {
            match *step {
                Step::Amend { at, returned } => {
                    let corrected = values(self.seed, &self.span, job, organ, revision + 1);
                    let reason = if returned {
                        "Bổ sung, điều chỉnh số liệu theo ý kiến của cơ quan tiếp nhận."
                    } else {
                        "Điều chỉnh số liệu sau khi rà soát."
                    };
                    let amended = reports_at(&self.store, at)
                        .amend(
                            submitter,
                            AmendReport {
                                report_id,
                                base_revision: revision,
                                form_version: 0,
                                values: corrected,
                                narrative: job.form.narrative().to_owned(),
                                reason: reason.to_owned(),
                                request_id: job.request_id(self.seed, organ, &format!("amend-{index}")),
                            },
                        )
                        .await?;
                    value_count = amended.revision.values.len() as u64;
                    revision += 1;
                    tally.amendments += 1;
                    tally.value_rows += value_count;
                }
                Step::Review { at, decision } => {
                    let comment = match decision {
                        ReviewDecision::Accept => String::new(),
                        ReviewDecision::Return => {
                            "Số liệu chưa khớp với kỳ trước; đề nghị rà soát, bổ sung.".to_owned()
                        }
                    };
                    let reviewer = self
                        .reviewers
                        .get(&job.form)
                        .context("no reviewer for the form")?;
                    reports_at(&self.store, at)
                        .review(
                            reviewer,
                            report_id,
                            revision,
                            Some(decision),
                            comment,
                            &job.request_id(self.seed, organ, &format!("review-{index}")),
                        )
                        .await?;
                    match decision {
                        ReviewDecision::Accept => tally.accepted += 1,
                        ReviewDecision::Return => tally.returned += 1,
                    }
                }
            }
            tally.writes += 1;
        }
        tally.values += value_count;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use lienthong_domain::report::validate_values;

    use super::*;

    /// The commune organs as `Store::reporting_organs` lists them.
    fn commune_organs() -> Vec<Organ> {
        let directory = hanoi_directory();
        let mut organs: Vec<Organ> = directory
            .organs
            .into_iter()
            .filter(|organ| {
                directory
                    .localities
                    .iter()
                    .any(|locality| locality.code == organ.locality_code && locality.kind.is_commune_level())
            })
            .collect();
        organs.sort_by(|left, right| left.id.cmp(&right.id));
        organs
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-01 00:00 UTC)
    }

    #[test]
    fn five_years_end_with_the_last_closed_month_and_quarter() {
        let last = Span::last_closed_month(now()).expect("a month");
        assert_eq!(
            last,
            Period::Month {
                year: 2026,
                month: 11
            }
        );
        let span = Span::new(History::Years(5), last).expect("a span");
        assert_eq!(
            span.first_month,
            Period::Month {
                year: 2021,
                month: 12
            }
        );
        assert_eq!(
            span.last_quarter,
            Period::Quarter {
                year: 2026,
                quarter: 3
            }
        );
        assert_eq!(
            span.first_quarter,
            Period::Quarter {
                year: 2021,
                quarter: 4
            }
        );
        assert_eq!(span.periods(GeneratedForm::Wide).len(), 60);
        assert_eq!(span.periods(GeneratedForm::Staffing).len(), 20);
        for form in GeneratedForm::ALL {
            let definition = form.definition(&span);
            assert!(definition.validate("draft").is_empty(), "{form:?}");
        }
        assert_eq!(wide_form().indicators.len(), 32);
    }

    #[test]
    fn a_history_since_a_month_starts_with_its_quarter_and_keeps_the_demo_forms() {
        let two_tier = Period::Month { year: 2025, month: 7 };
        let span = Span::new(
            History::Since(two_tier),
            Period::Month {
                year: 2026,
                month: 11,
            },
        )
        .expect("a span");
        assert_eq!(span.first_month, two_tier);
        assert_eq!(
            span.first_quarter,
            Period::Quarter {
                year: 2025,
                quarter: 3
            }
        );
        assert_eq!(
            span.last_quarter,
            Period::Quarter {
                year: 2026,
                quarter: 3
            }
        );
        assert_eq!(span.periods(GeneratedForm::Tthc).len(), 17);
        assert_eq!(span.periods(GeneratedForm::Staffing).len(), 5);
        // The demo forms are owed from the start of two-tier government, so
        // the demo's history installs exactly them.
        assert_eq!(GeneratedForm::Tthc.definition(&span), tthc_form());
        assert_eq!(GeneratedForm::Staffing.definition(&span), staffing_form());

        let too_late = Span::new(
            History::Since(Period::Month {
                year: 2026,
                month: 11,
            }),
            Period::Month {
                year: 2026,
                month: 11,
            },
        );
        assert!(too_late.is_err());
        assert!(
            Span::new(
                History::Years(0),
                Period::Month {
                    year: 2026,
                    month: 11
                }
            )
            .is_err()
        );
    }

    #[test]
    fn a_commune_sample_keeps_every_organ_of_every_nth_commune() {
        let organs = commune_organs();
        let sample = sample_communes(organs.clone(), 6);
        let communes: BTreeSet<&str> = sample.iter().map(|organ| organ.locality_code.as_str()).collect();
        assert_eq!(communes.len(), 21);
        assert_eq!(sample.len(), 21 * 4);
        assert!(communes.contains(organs[0].locality_code.as_str()));
        assert_eq!(sample_communes(organs.clone(), 1), organs);
        assert_eq!(sample_communes(organs.clone(), 0), organs);
    }

    #[test]
    fn the_plan_is_deterministic_with_realistic_gaps_and_about_a_million_values() {
        let organs = commune_organs();
        assert_eq!(organs.len(), 504);
        let span = Span::new(
            History::Years(5),
            Period::Month {
                year: 2026,
                month: 11,
            },
        )
        .expect("a span");
        let all = &GeneratedForm::ALL;
        let plan = plan(7, &span, all, &organs, now());
        assert_eq!(plan, super::plan(7, &span, all, &organs, now()));
        assert_ne!(plan.jobs, super::plan(8, &span, all, &organs, now()).jobs);
        let owed: u64 = plan.owed.values().sum();
        assert_eq!(owed, 126 * 60 + 252 * 20 + 504 * 60);
        let sent = plan.jobs.len() as f64;
        let missing = 1.0 - sent / owed as f64;
        assert!((0.03..=0.05).contains(&missing), "{missing}");
        let late = plan.jobs.iter().filter(|job| job.late).count() as f64 / sent;
        assert!((0.08..=0.12).contains(&late), "{late}");
        let amended = plan.jobs.iter().filter(|job| job.revisions() > 1).count();
        assert!((800..=2_000).contains(&amended), "{amended}");

        let mut values = 0;
        for job in &plan.jobs {
            let organ = &organs[job.organ];
            assert!(job.form.kinds().contains(&organ.kind));
            values += super::values(7, &span, job, organ, job.revisions()).len();
        }
        assert!((950_000..=1_050_000).contains(&values), "{values}");
    }

    #[test]
    fn every_revision_passes_its_form_validation() {
        let organs = commune_organs();
        let span = Span::new(
            History::Years(5),
            Period::Month {
                year: 2026,
                month: 11,
            },
        )
        .expect("a span");
        let plan = plan(3, &span, &GeneratedForm::ALL, &organs, now());
        let definitions: BTreeMap<GeneratedForm, FormDefinition> = GeneratedForm::ALL
            .into_iter()
            .map(|form| (form, form.definition(&span)))
            .collect();
        for job in plan.jobs.iter().step_by(7) {
            for revision in 1..=job.revisions() {
                let values = values(3, &span, job, &organs[job.organ], revision);
                let checked = validate_values(&definitions[&job.form], &values);
                assert!(checked.is_ok(), "{job:?} revision {revision}: {checked:?}");
            }
        }
    }
}
