//! What the benchmark submits: the form `bench-20`, twenty INTEGER indicators
//! a commune reports monthly, and reports for it. Six of the indicators are a
//! part of another ("dossiers handled online ≤ dossiers received"), which
//! gives the form six validation rules, so each submission is checked value
//! against value and not only parsed. Figures vary from one submission to the
//! next and always satisfy the rules: a rejected report would measure the
//! error path instead of the write.

use lienthong::demo::{count_indicator, validation_rule};
use lienthong::proto;
use lienthong_domain::directory::OrganKind;
use lienthong_domain::form::{Aggregation, Comparison, FormDefinition};
use lienthong_domain::period::{Period, Periodicity, WindowRule};

pub const FORM_CODE: &str = "bench-20";
/// The department the form is addressed to; any city department would do.
const OWNER_ORGAN: &str = "01-city-office";
/// Far enough back that every worker has hundreds of distinct periods to
/// report for, each an (organ, form, period) that can be submitted once.
pub const FIRST_PERIOD: Period = Period::Month { year: 2000, month: 1 };

/// How an indicator's figure is made up for a submission.
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// `base` plus a varying amount below `spread`.
    Count { base: u32, spread: u32 },
    /// Up to `max_percent` % of the figure of the indicator `whole`, which
    /// comes earlier in [`INDICATORS`]; the form requires `part ≤ whole`.
    PartOf { whole: &'static str, max_percent: u32 },
}

#[derive(Debug)]
struct Spec {
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    figure: Figure,
}

const fn count(code: &'static str, name: &'static str, unit: &'static str, base: u32, spread: u32) -> Spec {
    Spec {
        code,
        name,
        unit,
        figure: Figure::Count { base, spread },
    }
}

const fn part(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    whole: &'static str,
    max_percent: u32,
) -> Spec {
    Spec {
        code,
        name,
        unit,
        figure: Figure::PartOf { whole, max_percent },
    }
}

const INDICATORS: [Spec; 20] = [
    count(
        "dossiers_received",
        "Hồ sơ thủ tục hành chính tiếp nhận",
        "hồ sơ",
        200,
        600,
    ),
    part(
        "dossiers_online",
        "Hồ sơ tiếp nhận trực tuyến",
        "hồ sơ",
        "dossiers_received",
        90,
    ),
    part(
        "dossiers_on_time",
        "Hồ sơ giải quyết đúng hạn",
        "hồ sơ",
        "dossiers_received",
        100,
    ),
    part(
        "dossiers_overdue",
        "Hồ sơ giải quyết quá hạn",
        "hồ sơ",
        "dossiers_received",
        5,
    ),
    count(
        "feedback_received",
        "Phản ánh, kiến nghị tiếp nhận",
        "lượt",
        5,
        60,
    ),
    part(
        "feedback_resolved",
        "Phản ánh, kiến nghị đã giải quyết",
        "lượt",
        "feedback_received",
        100,
    ),
    count("births_registered", "Đăng ký khai sinh", "trường hợp", 10, 120),
    count("deaths_registered", "Đăng ký khai tử", "trường hợp", 2, 40),
    count("marriages_registered", "Đăng ký kết hôn", "trường hợp", 2, 50),
    count("households", "Số hộ dân", "hộ", 3_000, 12_000),
    part("poor_households", "Hộ nghèo", "hộ", "households", 3),
    part("near_poor_households", "Hộ cận nghèo", "hộ", "households", 5),
    count(
        "construction_permits",
        "Giấy phép xây dựng đã cấp",
        "giấy phép",
        0,
        80,
    ),
    count(
        "construction_violations",
        "Vi phạm trật tự xây dựng phát hiện",
        "vụ",
        0,
        15,
    ),
    count("land_disputes", "Tranh chấp đất đai tiếp nhận", "vụ", 0, 20),
    count("mediation_cases", "Vụ việc hòa giải ở cơ sở", "vụ", 0, 30),
    count("public_order_incidents", "Vụ việc an ninh, trật tự", "vụ", 0, 25),
    count("fires", "Vụ cháy", "vụ", 0, 4),
    count(
        "social_allowance_recipients",
        "Người hưởng trợ cấp xã hội",
        "người",
        100,
        900,
    ),
    count("meetings_held", "Cuộc họp, hội nghị đã tổ chức", "cuộc", 2, 20),
];

/// About 300 characters, the length of a typical summary paragraph.
const NARRATIVE: &str = "Trong tháng, Ủy ban nhân dân xã đẩy mạnh cải cách thủ tục hành \
chính, nâng tỷ lệ hồ sơ tiếp nhận trực tuyến. Tình hình an ninh, trật tự được giữ vững, không phát \
sinh vụ việc phức tạp. Các tranh chấp đất đai được hòa giải kịp thời tại cơ sở. Chính sách an sinh \
xã hội được thực hiện đầy đủ, đúng đối tượng.";

/// The definition of `bench-20`: monthly under Decree 09, owed by all four
/// organs of every commune and ward.
pub fn form() -> FormDefinition {
    let indicators = INDICATORS
        .iter()
        .map(|spec| count_indicator(spec.code, spec.name, spec.unit, Aggregation::Sum, true))
        .collect();
    let rules = INDICATORS
        .iter()
        .filter_map(|spec| match spec.figure {
            Figure::PartOf { whole, .. } => Some(validation_rule(
                spec.code,
                Comparison::LessOrEqual,
                whole,
                &format!("{} không được vượt quá {whole}", spec.code),
            )),
            Figure::Count { .. } => None,
        })
        .collect();
    FormDefinition {
        title: "Báo cáo tổng hợp tình hình kinh tế - xã hội cấp xã (kiểm thử tải)".to_owned(),
        description: "Hai mươi chỉ tiêu hằng tháng, dùng để đo thông lượng tiếp nhận báo cáo.".to_owned(),
        owner_organ: OWNER_ORGAN.to_owned(),
        periodicity: Periodicity::Monthly,
        window_rule: WindowRule::Decree09,
        deadline_days_after_cutoff: 5,
        reporting_organ_kinds: OrganKind::COMMUNE_ORGANS.to_vec(),
        first_period: Some(FIRST_PERIOD),
        indicators,
        rules,
    }
}

/// A SubmitReport request for `bench-20`; `seed` varies the figures.
pub fn submission(organ_id: &str, period: &str, seed: u64, request_id: String) -> proto::SubmitReportRequest {
    proto::SubmitReportRequest {
        organ: organ_id.to_owned(),
        form_code: FORM_CODE.to_owned(),
        form_version: 0,
        period: period.to_owned(),
        values: values(seed),
        narrative: NARRATIVE.to_owned(),
        request_id,
    }
}

fn values(seed: u64) -> Vec<proto::IndicatorValue> {
    let mut figures: Vec<(&str, i64)> = Vec::with_capacity(INDICATORS.len());
    for (salt, spec) in (0_u64..).zip(&INDICATORS) {
        let noise = noise(seed, salt);
        let figure = match spec.figure {
            Figure::Count { base, spread } => i64::from(base) + i64::from(noise % spread.max(1)),
            Figure::PartOf { whole, max_percent } => {
                // A whole not found would be a mistake in the table above;
                // 0 still satisfies `part ≤ whole` for a whole of 0, and
                // the unit test catches it.
                let whole = figures
                    .iter()
                    .find(|(code, _)| *code == whole)
                    .map_or(0, |(_, figure)| *figure);
                whole * i64::from(noise % (max_percent + 1)) / 100
            }
        };
        figures.push((spec.code, figure));
    }
    figures
        .into_iter()
        .map(|(code, figure)| proto::IndicatorValue {
            indicator_code: code.to_owned(),
            value: Some(proto::indicator_value::Value::IntegerValue(figure)),
        })
        .collect()
}

/// A well-mixed 32-bit number from a submission's seed and an indicator's
/// position (SplitMix64's finaliser), so figures look unrelated without a
/// random-number generator per worker.
fn noise(seed: u64, salt: u64) -> u32 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The upper half is the best mixed.
    u32::try_from(z >> 32).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use lienthong::grpc::convert::value_inputs;
    use lienthong_domain::report::validate_values;

    use super::*;

    #[test]
    fn the_form_is_valid_with_twenty_indicators_and_six_rules() {
        let form = form();
        assert!(form.validate("draft").is_empty(), "{:?}", form.validate("draft"));
        assert_eq!(form.indicators.len(), 20);
        assert_eq!(form.rules.len(), 6);
    }

    #[test]
    fn every_submission_passes_validation() {
        let form = form();
        for seed in 0..2_000 {
            let request = submission("00004-peoples-committee", "2000-01", seed, format!("r{seed}"));
            assert_eq!(request.values.len(), 20);
            let checked = validate_values(&form, &value_inputs(request.values));
            assert!(checked.is_ok(), "seed {seed}: {checked:?}");
        }
    }

    #[test]
    fn figures_vary_and_the_narrative_is_about_300_characters() {
        assert_ne!(values(1), values(2));
        assert!(
            (280..=320).contains(&NARRATIVE.chars().count()),
            "{}",
            NARRATIVE.chars().count()
        );
    }
}
