//! `generate`: fills a database with years of reports through
//! [`lienthong::generate`], at the full size the analytics bench measures.

use anyhow::Context as _;
use lienthong::generate::{self, Filled, GeneratedForm, History};
use time::OffsetDateTime;

use crate::cli::{DataArgs, GenerateArgs};

/// `lienthong-bench generate`: fills the database at `--database-url`.
pub async fn run(arguments: &GenerateArgs) -> anyhow::Result<()> {
    let redacted = lienthong::config::redact_password(&arguments.database_url);
    let store = lienthong_store::connect(&arguments.database_url)
        .await
        .with_context(|| format!("opening {redacted}"))?;
    let filled = generate::fill(store, &arguments.data.options(), OffsetDateTime::now_utc()).await?;
    print(&filled, &redacted);
    Ok(())
}

impl DataArgs {
    /// Every commune on all three forms.
    pub fn options(&self) -> generate::Options {
        generate::Options {
            history: History::Years(self.years),
            through: self.through,
            seed: self.seed,
            forms: GeneratedForm::ALL.to_vec(),
            every_nth_commune: 1,
            concurrency: self.write_concurrency,
            recommendations: true,
        }
    }
}

/// Prints what filling wrote, each line starting with `label`.
pub fn print(filled: &Filled, label: &str) {
    let seconds = filled.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    let owed = filled.owed_count();
    let reports = filled.report_count();
    println!(
        "{label}: {} to {} ({} to {} quarterly); {reports} reports of {owed} owed ({:.1} % missing, {:.1} % of those sent late), {} amended revisions, {} accepted, {} returned",
        filled.span.first_month,
        filled.span.last_month,
        filled.span.first_quarter,
        filled.span.last_quarter,
        100.0 * (owed - reports) as f64 / owed.max(1) as f64,
        100.0 * filled.late as f64 / reports.max(1) as f64,
        filled.amendments,
        filled.accepted,
        filled.returned,
    );
    for (form, count) in &filled.reports {
        println!(
            "{label}:   {}: {count} reports of {} owed",
            form.code(),
            filled.owed.get(form).copied().unwrap_or(0)
        );
    }
    println!(
        "{label}: {} values in latest revisions ({} rows of report_values); {} writes in {seconds:.1} s with {} in flight: {:.0} writes/s, {:.0} reports/s, {:.0} values/s",
        filled.values,
        filled.value_rows,
        filled.writes,
        filled.concurrency,
        filled.writes as f64 / seconds,
        reports as f64 / seconds,
        filled.value_rows as f64 / seconds,
    );
    println!(
        "{label}: {} recommendations; {} clusters answered, {} escalated to the central government",
        filled.recommendations.submitted,
        filled.recommendations.clusters_answered,
        filled.recommendations.clusters_escalated,
    );
}
