//! The recommendations dossier for the central government: the matters a
//! department sends on, each with who raised it, how widely, and what the
//! department proposes. Built from clusters by
//! [`crate::service::DossierService`]; rendered here as a Markdown
//! document. The rendering depends only on the dossier, so building the
//! same dossier twice gives the same document byte for byte.

use std::fmt::Write as _;

use crate::directory::Bloc;
use crate::period::{Period, vietnam_date};
use crate::recommendation::{CENTRAL, ClusterStatus, RankedCluster};

/// Why a matter is in the dossier; a matter that qualifies in several ways
/// names the first that applies, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inclusion {
    /// A department escalated it to the central government.
    Escalated,
    /// The communes addressed it to the central government themselves.
    AddressedToCentral,
    /// Raised by at least the dossier's minimum of distinct localities.
    WidelyRaised,
}

impl Inclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Inclusion::Escalated => "ESCALATED",
            Inclusion::AddressedToCentral => "ADDRESSED_TO_CENTRAL",
            Inclusion::WidelyRaised => "WIDELY_RAISED",
        }
    }

    /// Whether a ranked cluster belongs in a dossier with this minimum of
    /// distinct localities, and why.
    pub fn of(ranked: &RankedCluster, min_distinct_localities: u32) -> Option<Inclusion> {
        let localities = u32::try_from(ranked.localities_in_span.len()).unwrap_or(u32::MAX);
        if ranked.cluster.status == ClusterStatus::EscalatedToCentral {
            Some(Inclusion::Escalated)
        } else if ranked.cluster.addressee == CENTRAL {
            Some(Inclusion::AddressedToCentral)
        } else if localities >= min_distinct_localities.max(1) {
            Some(Inclusion::WidelyRaised)
        } else {
            None
        }
    }
}

/// A locality supporting a matter, with its name for the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportingLocality {
    pub code: String,
    pub name: String,
}

/// A figure a form measures about a matter's topic, summed over the
/// localities that raised it, for the form's last period in the dossier's
/// range.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub form_code: String,
    pub form_title: String,
    pub period: Period,
    pub indicator_code: String,
    pub indicator_name: String,
    pub unit: String,
    /// `None` when no report of those localities carries it yet.
    pub value: Option<f64>,
    pub contributing_reports: u32,
    pub missing_reports: u32,
}

/// One matter of the dossier.
#[derive(Debug, Clone, PartialEq)]
pub struct DossierEntry {
    pub ranked: RankedCluster,
    pub inclusion: Inclusion,
    /// The localities of the members received in the dossier's span, by code.
    pub localities: Vec<SupportingLocality>,
    /// Figures of indicators that measure the matter's topic.
    pub evidence: Vec<Evidence>,
}

/// The dossier: its criteria and its matters, most widely raised first.
#[derive(Debug, Clone, PartialEq)]
pub struct Dossier {
    pub from_period: Period,
    pub to_period: Period,
    pub min_distinct_localities: u32,
    /// The topics asked for; every topic when empty.
    pub topics: Vec<String>,
    pub entries: Vec<DossierEntry>,
}

/// How a bloc is named in a document for Vietnamese readers.
fn bloc_label(bloc: Bloc) -> &'static str {
    match bloc {
        Bloc::Party => "Đảng ủy",
        Bloc::Council => "HĐND",
        Bloc::Government => "UBND",
        Bloc::Front => "MTTQ và các đoàn thể",
    }
}

fn inclusion_label(inclusion: Inclusion) -> &'static str {
    match inclusion {
        Inclusion::Escalated => "sở, ngành đã đề xuất chuyển Trung ương",
        Inclusion::AddressedToCentral => "địa phương kiến nghị trực tiếp Trung ương",
        Inclusion::WidelyRaised => "nhiều địa phương cùng kiến nghị",
    }
}

fn status_label(status: ClusterStatus) -> &'static str {
    match status {
        ClusterStatus::Open => "chưa phân công",
        ClusterStatus::Assigned => "đã giao sở, ngành xử lý",
        ClusterStatus::Answered => "đã trả lời",
        ClusterStatus::Reopened => "mở lại",
        ClusterStatus::EscalatedToCentral => "đề xuất Trung ương",
    }
}

/// A figure as Vietnamese write it: thousands with dots, decimals with a
/// comma, at most two decimals ("1.234,5").
fn format_figure(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    let sign = if rounded < 0.0 { "-" } else { "" };
    let text = format!("{:.2}", rounded.abs());
    let (integer, decimals) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    let decimals = decimals.trim_end_matches('0');
    if decimals.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{decimals}")
    }
}

/// A text as one Markdown block quote, line breaks kept.
fn quote(out: &mut String, text: &str) {
    for line in text.trim().lines() {
        let _ = writeln!(out, "> {}", line.trim_end());
    }
}

impl Dossier {
    /// Distinct localities across all matters.
    pub fn distinct_localities(&self) -> usize {
        let mut codes: Vec<&str> = self
            .entries
            .iter()
            .flat_map(|entry| entry.localities.iter().map(|locality| locality.code.as_str()))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes.len()
    }

    /// The dossier as a Markdown document, in Vietnamese, deterministic.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let span = if self.from_period == self.to_period {
            self.from_period.to_string()
        } else {
            format!("{} – {}", self.from_period, self.to_period)
        };
        let _ = writeln!(out, "# Tổng hợp kiến nghị đề xuất Trung ương, kỳ {span}\n");
        let recommendations: u32 = self
            .entries
            .iter()
            .map(|entry| entry.ranked.members_in_span)
            .sum();
        let _ = writeln!(
            out,
            "{} vấn đề, tổng hợp từ {} kiến nghị của {} xã, phường trong kỳ.\n",
            self.entries.len(),
            recommendations,
            self.distinct_localities()
        );
        let _ = writeln!(out, "Tiêu chí tổng hợp:\n");
        let _ = writeln!(
            out,
            "- vấn đề sở, ngành đã đề xuất chuyển Trung ương, hoặc địa phương kiến nghị trực tiếp Trung ương;"
        );
        let _ = writeln!(
            out,
            "- vấn đề được ít nhất {} xã, phường cùng kiến nghị;",
            self.min_distinct_localities.max(1)
        );
        if self.topics.is_empty() {
            let _ = writeln!(out, "- mọi lĩnh vực.\n");
        } else {
            let _ = writeln!(out, "- lĩnh vực: {}.\n", self.topics.join(", "));
        }
        if self.entries.is_empty() {
            let _ = writeln!(out, "Không có vấn đề nào đáp ứng tiêu chí trong kỳ.");
            return out;
        }
        for (number, entry) in self.entries.iter().enumerate() {
            let cluster = &entry.ranked.cluster;
            let _ = writeln!(out, "## {}. Vấn đề số {}\n", number + 1, cluster.id);
            quote(&mut out, &cluster.representative_text);
            out.push('\n');
            let _ = writeln!(out, "- Lý do đưa vào: {}.", inclusion_label(entry.inclusion));
            let _ = writeln!(
                out,
                "- Lĩnh vực: {}.",
                cluster.topic.as_deref().unwrap_or("chưa phân loại")
            );
            let _ = writeln!(
                out,
                "- Tình trạng: {}{}.",
                status_label(cluster.status),
                cluster
                    .assigned_department
                    .as_deref()
                    .map(|department| format!(" ({department})"))
                    .unwrap_or_default()
            );
            let blocs: Vec<&str> = entry
                .ranked
                .blocs_in_span
                .iter()
                .map(|bloc| bloc_label(*bloc))
                .collect();
            let _ = writeln!(
                out,
                "- Kiến nghị trong kỳ: {} kiến nghị của {} xã, phường; khối: {}.",
                entry.ranked.members_in_span,
                entry.localities.len(),
                blocs.join(", ")
            );
            let names: Vec<String> = entry
                .localities
                .iter()
                .map(|locality| format!("{} ({})", locality.name, locality.code))
                .collect();
            let _ = writeln!(out, "- Địa phương kiến nghị: {}.", names.join(", "));
            let _ = writeln!(
                out,
                "- Tổng số kiến nghị từ trước đến nay: {}; lần đầu {}, gần nhất {}.",
                cluster.member_count,
                vietnam_date(cluster.first_seen),
                vietnam_date(cluster.last_seen)
            );
            if !entry.evidence.is_empty() {
                let _ = writeln!(out, "\nSố liệu liên quan tại các xã, phường kiến nghị:\n");
                for evidence in &entry.evidence {
                    let value = evidence.value.map_or_else(
                        || "chưa có số liệu".to_owned(),
                        |value| format!("{} {}", format_figure(value), evidence.unit),
                    );
                    let _ = writeln!(
                        out,
                        "- {}: {} (biểu {}, kỳ {}; {} báo cáo, còn thiếu {}).",
                        evidence.indicator_name,
                        value,
                        evidence.form_code,
                        evidence.period,
                        evidence.contributing_reports,
                        evidence.missing_reports
                    );
                }
            }
            match &cluster.escalation_proposal {
                Some(proposal) => {
                    let _ = writeln!(out, "\nĐề xuất của sở, ngành:\n");
                    quote(&mut out, proposal);
                }
                None => {
                    let _ = writeln!(out, "\nĐề xuất của sở, ngành: chưa có.");
                }
            }
            if let Some(answer) = &cluster.answer {
                let _ = writeln!(
                    out,
                    "\nĐã trả lời ({}, văn bản {} ngày {}):\n",
                    answer.answering_organ, answer.document, answer.document_date
                );
                quote(&mut out, &answer.text);
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::format_figure;

    #[test]
    fn figures_are_written_the_vietnamese_way() {
        assert_eq!(format_figure(0.0), "0");
        assert_eq!(format_figure(12.0), "12");
        assert_eq!(format_figure(1234.5), "1.234,5");
        assert_eq!(format_figure(1_234_567.891), "1.234.567,89");
        assert_eq!(format_figure(-2500.0), "-2.500");
    }
}
