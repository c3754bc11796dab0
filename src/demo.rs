//! Demo data, so a newcomer sees something real at once: the Hanoi
//! directory, two forms built from the city's own figures (administrative
//! procedures monthly, staffing quarterly) and the reports of a sample of
//! communes since two-tier government began, made by [`crate::generate`]:
//! some late, some missing, most accepted, a few returned and amended; a
//! few resolutions of
//! the city's and a ward's councils, some reviewed; and the recommendations
//! of the dedup labelled set, sent over the last three months by the
//! communes' four blocs, with one matter answered half-way (so later repeats
//! get the answer at once) and one escalated to the central government.
//! Loading twice changes nothing: forms are created once and reports,
//! resolutions, recommendations and decisions carry fixed request ids (a
//! later load adds the reports of periods closed since).

use std::sync::Arc;

use crate::generate;

use lienthong_domain::auth::{Principal, Role};
use lienthong_domain::directory::{OrganKind, hanoi_directory};
use lienthong_domain::form::{
    Aggregation, Comparison, FormDefinition, Indicator, RatioOf, ValidationRule, ValueType,
};
use lienthong_domain::period::{Period, Periodicity, WindowRule, vietnam_date};
use lienthong_domain::resolution::{ResolutionDraft, ResolutionVerdict, resolution_name};
use lienthong_domain::service::{FileResolution, Services};
use lienthong_domain::store::Store;
use lienthong_domain::{Error, Result};
use rust_decimal::Decimal;
use time::{Duration, OffsetDateTime};

pub const TTHC_FORM: &str = "tthc-monthly";
pub const STAFFING_FORM: &str = "staffing-quarterly";
pub(crate) const TTHC_OWNER: &str = "01-public-service-centre";
pub(crate) const STAFFING_OWNER: &str = "01-home-affairs";
/// Organ acting as administrator while loading demo or generated data.
pub const ADMIN_ORGAN: &str = "01-city-office";

/// A whole-number indicator that cannot be negative.
pub fn count_indicator(
    code: &str,
    name: &str,
    unit: &str,
    aggregation: Aggregation,
    required: bool,
) -> Indicator {
    Indicator {
        code: code.to_owned(),
        name: name.to_owned(),
        unit: unit.to_owned(),
        value_type: ValueType::Integer,
        aggregation,
        required,
        min: Some(Decimal::ZERO),
        max: None,
        ratio_of: None,
        description: String::new(),
        topics: Vec::new(),
    }
}

/// Marks an indicator as evidence for staffing recommendations.
fn staffing(indicator: Indicator) -> Indicator {
    Indicator {
        topics: vec!["staffing".to_owned()],
        ..indicator
    }
}

/// A rule comparing two indicators of a report.
pub fn validation_rule(left: &str, comparison: Comparison, right: &str, message: &str) -> ValidationRule {
    ValidationRule {
        left: left.to_owned(),
        comparison,
        right: right.to_owned(),
        message: message.to_owned(),
    }
}

/// "Administrative procedures at commune level", monthly, owed by every
/// commune People's Committee to the Public Administration Service Centre.
pub fn tthc_form() -> FormDefinition {
    FormDefinition {
        title: "Tình hình tiếp nhận, giải quyết thủ tục hành chính cấp xã".to_owned(),
        description: "Hồ sơ TTHC tiếp nhận và giải quyết trong kỳ, tỷ lệ trực tuyến, phản ánh kiến nghị."
            .to_owned(),
        owner_organ: TTHC_OWNER.to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 5,
        reporting_organ_kinds: vec![OrganKind::PeoplesCommittee],
        first_period: Some(Period::Month { year: 2025, month: 7 }),
        indicators: vec![
            count_indicator(
                "dossiers_received",
                "Hồ sơ tiếp nhận",
                "hồ sơ",
                Aggregation::Sum,
                true,
            ),
            count_indicator(
                "dossiers_online",
                "Hồ sơ tiếp nhận trực tuyến",
                "hồ sơ",
                Aggregation::Sum,
                true,
            ),
            Indicator {
                code: "online_rate".to_owned(),
                name: "Tỷ lệ hồ sơ trực tuyến".to_owned(),
                unit: "%".to_owned(),
                value_type: ValueType::Percent,
                aggregation: Aggregation::Ratio,
                required: false,
                min: Some(Decimal::ZERO),
                max: Some(Decimal::ONE_HUNDRED),
                ratio_of: Some(RatioOf {
                    numerator: "dossiers_online".to_owned(),
                    denominator: "dossiers_received".to_owned(),
                }),
                description: "Tính từ hồ sơ trực tuyến / hồ sơ tiếp nhận nếu để trống.".to_owned(),
                topics: Vec::new(),
            },
            count_indicator(
                "dossiers_resolved_on_time",
                "Hồ sơ giải quyết đúng hạn",
                "hồ sơ",
                Aggregation::Sum,
                true,
            ),
            count_indicator(
                "dossiers_overdue",
                "Hồ sơ quá hạn",
                "hồ sơ",
                Aggregation::Sum,
                true,
            ),
            count_indicator(
                "citizen_feedback_received",
                "Phản ánh, kiến nghị tiếp nhận",
                "lượt",
                Aggregation::Sum,
                false,
            ),
            count_indicator(
                "digitally_signed_documents",
                "Văn bản ký số",
                "văn bản",
                Aggregation::Sum,
                false,
            ),
        ],
        rules: vec![
            validation_rule(
                "dossiers_online",
                Comparison::LessOrEqual,
                "dossiers_received",
                "online dossiers cannot exceed dossiers received",
            ),
            validation_rule(
                "dossiers_overdue",
                Comparison::LessOrEqual,
                "dossiers_received",
                "overdue dossiers cannot exceed dossiers received",
            ),
        ],
    }
}

/// "Staffing", quarterly, owed by commune People's Committees and Party
/// committees to the Department of Home Affairs.
pub fn staffing_form() -> FormDefinition {
    FormDefinition {
        title: "Tình hình biên chế, bố trí cán bộ, công chức cấp xã".to_owned(),
        description:
            "Biên chế được giao, số có mặt, điều động đến, vị trí chủ chốt còn trống, chế độ chính sách."
                .to_owned(),
        owner_organ: STAFFING_OWNER.to_owned(),
        periodicity: Periodicity::Quarterly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 10,
        reporting_organ_kinds: vec![OrganKind::PeoplesCommittee, OrganKind::PartyCommittee],
        first_period: Some(Period::Quarter {
            year: 2025,
            quarter: 3,
        }),
        indicators: vec![
            staffing(count_indicator(
                "staffing_quota",
                "Biên chế được giao",
                "người",
                Aggregation::Last,
                true,
            )),
            staffing(count_indicator(
                "staff_in_post",
                "Số có mặt",
                "người",
                Aggregation::Last,
                true,
            )),
            count_indicator(
                "transferred_in",
                "Điều động đến trong kỳ",
                "người",
                Aggregation::Sum,
                false,
            ),
            staffing(count_indicator(
                "key_post_vacancies",
                "Vị trí chủ chốt còn trống",
                "vị trí",
                Aggregation::Last,
                false,
            )),
            count_indicator(
                "entitlements_settled_people",
                "Người đã giải quyết chế độ",
                "người",
                Aggregation::Sum,
                false,
            ),
            Indicator {
                value_type: ValueType::MoneyVnd,
                ..count_indicator(
                    "entitlements_settled_vnd",
                    "Kinh phí giải quyết chế độ",
                    "VND",
                    Aggregation::Sum,
                    false,
                )
            },
        ],
        rules: vec![validation_rule(
            "key_post_vacancies",
            Comparison::LessOrEqual,
            "staffing_quota",
            "vacancies cannot exceed the quota",
        )],
    }
}

/// What a demo load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub localities: u32,
    pub organs: u32,
    pub forms_created: u32,
    pub reports: u32,
    pub recommendations: u32,
}

/// Imports the Hanoi directory and creates and publishes the demo forms
/// that do not exist yet.
pub async fn install_directory_and_forms(store: Arc<dyn Store>, now: OffsetDateTime) -> Result<DemoSummary> {
    let services = Services::new(store.clone(), Arc::new(move || now));
    let directory = hanoi_directory();
    services.directory.import(&directory).await?;
    let mut summary = DemoSummary {
        localities: u32::try_from(directory.localities.len()).unwrap_or(u32::MAX),
        organs: u32::try_from(directory.organs.len()).unwrap_or(u32::MAX),
        ..DemoSummary::default()
    };
    let admin = generate::acting_as(store.as_ref(), ADMIN_ORGAN, Role::Admin).await?;
    for (code, definition) in [(TTHC_FORM, tthc_form()), (STAFFING_FORM, staffing_form())] {
        if store.get_form(code).await?.is_none() {
            services.forms.create_form(&admin, code, definition).await?;
            services.forms.publish_form(&admin, code).await?;
            summary.forms_created += 1;
        }
    }
    Ok(summary)
}

/// The demo's share of the report history: every sixth commune's People's
/// Committee and Party committee on the two demo forms, from the start of
/// two-tier government to the last month whose deadline has passed.
pub fn report_history() -> generate::Options {
    generate::Options {
        history: generate::History::Since(Period::Month { year: 2025, month: 7 }),
        through: None,
        seed: 1,
        forms: vec![generate::GeneratedForm::Tthc, generate::GeneratedForm::Staffing],
        every_nth_commune: 6,
        concurrency: 4,
        // The demo sends the sample set itself, over its last 90 days.
        recommendations: false,
    }
}

/// Loads the directory, the demo forms, the [`report_history`] as of `now`,
/// the sample resolutions and the sample recommendations.
pub async fn load(store: Arc<dyn Store>, now: OffsetDateTime) -> anyhow::Result<DemoSummary> {
    let mut summary = install_directory_and_forms(store.clone(), now).await?;
    let filled = generate::fill(store.clone(), &report_history(), now).await?;
    summary.reports = u32::try_from(filled.report_count()).unwrap_or(u32::MAX);
    file_sample_resolutions(&store, now).await?;
    summary.recommendations = send_sample_recommendations(&store, now).await?;
    Ok(summary)
}

/// A resolution of the demo register and, if any, the decision on it.
struct SampleResolution {
    organ_id: &'static str,
    symbol: &'static str,
    title: &'static str,
    adoption_date: &'static str,
    effective_date: &'static str,
    topic: &'static str,
    summary: &'static str,
    budget_vnd: Option<i64>,
    /// The symbol of an earlier sample of the same organ this one replaces.
    supersedes: Option<&'static str>,
    verdict: Option<(ResolutionVerdict, &'static str)>,
}

/// The city council's thematic session of June 2025, which adopted three
/// resolutions for the switch to two-tier government (the entitlements of
/// 4,294 people, more than 4,063.6 billion VND; 500 million VND of equipment
/// for each of the 126 communes), and the first resolutions of Ba Đình
/// ward's council and Party committee, one of them returned for amendment
/// and replaced.
fn sample_resolutions() -> [SampleResolution; 7] {
    const CITY_COUNCIL: &str = "01-peoples-council";
    const WARD_COUNCIL: &str = "00004-peoples-council";
    const WARD_PARTY_COMMITTEE: &str = "00004-party-committee";
    [
        SampleResolution {
            organ_id: CITY_COUNCIL,
            symbol: "15/2025/NQ-HĐND",
            title: "Nghị quyết quy định chính sách hỗ trợ đối với cán bộ, công chức, viên chức và người lao động \
                    dôi dư do sắp xếp tổ chức bộ máy, đơn vị hành chính",
            adoption_date: "2025-06-27",
            effective_date: "2025-07-01",
            topic: "staffing",
            summary: "Hỗ trợ thêm ngoài chế độ của Trung ương cho người nghỉ việc do sắp xếp; dự kiến giải quyết \
                      cho 4.294 người.",
            budget_vnd: Some(4_063_600_000_000),
            supersedes: None,
            verdict: Some((ResolutionVerdict::Lawful, "")),
        },
        SampleResolution {
            organ_id: CITY_COUNCIL,
            symbol: "16/2025/NQ-HĐND",
            title: "Nghị quyết bổ sung kinh phí mua sắm trang thiết bị cho các xã, phường",
            adoption_date: "2025-06-27",
            effective_date: "2025-07-01",
            topic: "budget",
            summary: "Mỗi xã, phường được bổ sung 500 triệu đồng để trang bị bộ phận một cửa và số hóa hồ sơ.",
            budget_vnd: Some(63_000_000_000),
            supersedes: None,
            verdict: None,
        },
        SampleResolution {
            organ_id: CITY_COUNCIL,
            symbol: "45/NQ-HĐND",
            title: "Nghị quyết về việc thành lập các đoàn công tác hướng dẫn kỳ họp thứ nhất Hội đồng nhân dân \
                    cấp xã",
            adoption_date: "2025-06-27",
            effective_date: "2025-06-27",
            topic: "organisation",
            summary: "Thành lập 17 đoàn công tác hướng dẫn 126 xã, phường tổ chức kỳ họp thứ nhất.",
            budget_vnd: None,
            supersedes: None,
            verdict: None,
        },
        SampleResolution {
            organ_id: WARD_COUNCIL,
            symbol: "01/NQ-HĐND",
            title: "Nghị quyết về việc thành lập các Ban của Hội đồng nhân dân phường Ba Đình",
            adoption_date: "2025-07-01",
            effective_date: "2025-07-01",
            topic: "organisation",
            summary: "Thành lập Ban Pháp chế và Ban Kinh tế - Xã hội của Hội đồng nhân dân phường.",
            budget_vnd: None,
            supersedes: None,
            verdict: None,
        },
        SampleResolution {
            organ_id: WARD_COUNCIL,
            symbol: "02/NQ-HĐND",
            title: "Nghị quyết về dự toán thu, chi ngân sách phường 6 tháng cuối năm 2025",
            adoption_date: "2025-07-01",
            effective_date: "2025-07-01",
            topic: "budget",
            summary: "Dự toán thu, chi ngân sách phường Ba Đình từ tháng 7 đến tháng 12 năm 2025.",
            budget_vnd: Some(38_500_000_000),
            supersedes: None,
            verdict: Some((
                ResolutionVerdict::NeedsAmendment,
                "Chi đầu tư phát triển vượt tỷ lệ được phân cấp; đề nghị điều chỉnh dự toán.",
            )),
        },
        SampleResolution {
            organ_id: WARD_COUNCIL,
            symbol: "07/NQ-HĐND",
            title: "Nghị quyết điều chỉnh dự toán thu, chi ngân sách phường 6 tháng cuối năm 2025",
            adoption_date: "2025-08-15",
            effective_date: "2025-08-15",
            topic: "budget",
            summary: "Điều chỉnh chi đầu tư phát triển theo tỷ lệ được phân cấp.",
            budget_vnd: Some(36_200_000_000),
            supersedes: Some("02/NQ-HĐND"),
            verdict: None,
        },
        SampleResolution {
            organ_id: WARD_PARTY_COMMITTEE,
            symbol: "01-NQ/ĐU",
            title: "Nghị quyết về lãnh đạo thực hiện nhiệm vụ chính trị 6 tháng cuối năm 2025",
            adoption_date: "2025-07-05",
            effective_date: "2025-07-05",
            topic: "governance",
            summary: "Vận hành thông suốt chính quyền hai cấp, giải quyết thủ tục hành chính đúng hạn, đẩy mạnh \
                      số hóa hồ sơ.",
            budget_vnd: None,
            supersedes: None,
            verdict: None,
        },
    ]
}

/// Files the sample resolutions, with the Department of Justice's
/// decisions; fixed request ids make a second load replay them.
async fn file_sample_resolutions(store: &Arc<dyn Store>, now: OffsetDateTime) -> Result<()> {
    const JUSTICE: &str = "01-justice";
    let services = Services::new(store.clone(), Arc::new(move || now));
    let reviewer = services
        .tokens
        .issue(
            JUSTICE,
            &[Role::Reviewer],
            "demo data loader",
            Some(Duration::hours(1)),
        )
        .await?;
    // Decisions record the token too.
    let justice = Principal {
        token_id: reviewer.record.id,
        ..generate::acting_as(store.as_ref(), JUSTICE, Role::Reviewer).await?
    };
    let mut filed: Vec<(&str, &str, i64)> = Vec::new();
    for sample in sample_resolutions() {
        // Filing records the token, so the filer gets a real one.
        let issued = services
            .tokens
            .issue(
                sample.organ_id,
                &[Role::Submitter],
                "demo data loader",
                Some(Duration::hours(1)),
            )
            .await?;
        let filer = Principal {
            token_id: issued.record.id,
            ..generate::acting_as(store.as_ref(), sample.organ_id, Role::Submitter).await?
        };
        let supersedes = sample.supersedes.and_then(|symbol| {
            filed
                .iter()
                .find(|(organ_id, earlier, _)| *organ_id == sample.organ_id && *earlier == symbol)
                .map(|(_, _, id)| *id)
        });
        let (resolution, _) = services
            .resolutions
            .file(
                &filer,
                FileResolution {
                    organ_id: sample.organ_id.to_owned(),
                    draft: ResolutionDraft {
                        symbol: sample.symbol.to_owned(),
                        title: sample.title.to_owned(),
                        adoption_date: sample.adoption_date.to_owned(),
                        effective_date: sample.effective_date.to_owned(),
                        topic: sample.topic.to_owned(),
                        summary: sample.summary.to_owned(),
                        full_text: format!(
                            "Điều 1. {}\nĐiều 2. Giao Ủy ban nhân dân tổ chức thực hiện.\n\
                             Điều 3. Nghị quyết có hiệu lực từ ngày {}.",
                            sample.summary, sample.effective_date
                        ),
                        budget_vnd: sample.budget_vnd,
                    },
                    supersedes,
                    request_id: format!("demo-resolution-{}-{}", sample.organ_id, sample.symbol),
                },
            )
            .await?;
        services.tokens.revoke(issued.record.id).await?;
        if let Some((verdict, comment)) = sample.verdict {
            services
                .resolutions
                .review(
                    &justice,
                    resolution.id,
                    Some(verdict),
                    comment.to_owned(),
                    &format!("demo-review-{}", resolution_name(resolution.id)),
                )
                .await?;
        }
        filed.push((sample.organ_id, sample.symbol, resolution.id));
    }
    services.tokens.revoke(reviewer.record.id).await?;
    Ok(())
}

/// The dedup labelled set: recommendations as communes write them, with
/// the matter each belongs to.
const SAMPLE_RECOMMENDATIONS: &str = include_str!("../crates/dedup/data/labelled/recommendations.jsonl");

#[derive(serde::Deserialize)]
pub(crate) struct SampleRecommendation {
    pub(crate) id: String,
    pub(crate) text: String,
    /// The matter.
    pub(crate) cluster: String,
    pub(crate) bloc: String,
    pub(crate) unit: String,
}

/// The sample recommendations, in file order.
pub(crate) fn sample_recommendations() -> Result<Vec<SampleRecommendation>> {
    SAMPLE_RECOMMENDATIONS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()
        .map_err(|error| Error::internal(format!("sample recommendations: {error}")))
}

/// The organ of a commune that speaks for a bloc.
fn organ_of(unit: &str, bloc: &str) -> Option<String> {
    let kind = match bloc {
        "PARTY" => "party-committee",
        "COUNCIL" => "peoples-council",
        "GOVERNMENT" => "peoples-committee",
        "FRONT" => "front-committee",
        _ => return None,
    };
    Some(format!("{unit}-{kind}"))
}

/// Sends the sample recommendations through the dedup engine, spread over
/// the 90 days before `now`, all addressed to the Department of Home
/// Affairs; half-way, the department answers the surplus-premises matter
/// and escalates the special-mechanism one. Returns how many were sent.
async fn send_sample_recommendations(store: &Arc<dyn Store>, now: OffsetDateTime) -> Result<u32> {
    const HOME_AFFAIRS: &str = "01-home-affairs";
    let samples = sample_recommendations()?;
    let clock = generate::SettableClock::at(now);
    let services = Services::new(store.clone(), clock.clock());
    let department = generate::acting_as(store.as_ref(), HOME_AFFAIRS, Role::Reviewer).await?;
    let count = samples.len();
    let mut sent = 0;
    let mut clusters_of_matter: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (index, sample) in samples.iter().enumerate() {
        // Oldest first, evenly over 90 days.
        let minutes_before = i64::try_from((count - index) * 90 * 24 * 60 / count).unwrap_or(0);
        let at = now - Duration::minutes(minutes_before);
        clock.set(at);
        if index == count / 2 {
            decide_sample_matters(&services, &department, &clusters_of_matter, at).await?;
        }
        let Some(organ_id) = organ_of(&sample.unit, &sample.bloc) else {
            continue;
        };
        let Some(organ) = store.get_organ(&organ_id).await? else {
            continue;
        };
        let submitter = Principal::in_process(organ, Role::Submitter);
        let topic = if sample.cluster.contains("staff") {
            "staffing"
        } else {
            ""
        };
        let view = services
            .recommendations
            .submit(
                &submitter,
                lienthong_domain::service::SubmitRecommendation {
                    organ_id,
                    text: sample.text.clone(),
                    topic: topic.to_owned(),
                    addressee: HOME_AFFAIRS.to_owned(),
                    source: "demo".to_owned(),
                    request_id: format!("demo-{}", sample.id),
                },
            )
            .await?;
        clusters_of_matter
            .entry(sample.cluster.clone())
            .or_insert(view.recommendation.cluster_id);
        sent += 1;
    }
    Ok(sent)
}

/// The department answers the surplus-premises matter and escalates the
/// special-mechanism matter, if they were received.
async fn decide_sample_matters(
    services: &Services,
    department: &Principal,
    clusters_of_matter: &std::collections::HashMap<String, i64>,
    at: OffsetDateTime,
) -> Result<()> {
    if let Some(&cluster) = clusters_of_matter.get("c002-surplus-premises") {
        let date = vietnam_date(at).to_string();
        services
            .recommendations
            .answer(
                department,
                cluster,
                "Sở Tài chính đã ban hành hướng dẫn xử lý trụ sở, cơ sở nhà đất dôi dư sau sắp xếp đơn vị \
                 hành chính; các xã, phường lập phương án và gửi Sở trước ngày 30 của tháng sau.",
                "2150/STC-QLCS",
                &date,
                "demo-answer-premises",
            )
            .await?;
    }
    if let Some(&cluster) = clusters_of_matter.get("c048-special-mechanism-capital") {
        services
            .recommendations
            .escalate(
                department,
                cluster,
                "Đề nghị Chính phủ trình Ủy ban Thường vụ Quốc hội cho phép Hà Nội áp dụng cơ chế đặc thù về \
                 biên chế cấp xã theo quy mô dân số.",
                "demo-escalate-capital",
            )
            .await?;
    }
    Ok(())
}
