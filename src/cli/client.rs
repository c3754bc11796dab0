//! Client commands: a gRPC client for ward systems that have none. Values
//! are read from a JSON object `{"indicator_code": value, …}` and typed by the
//! form's definition, fetched from the server.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use lienthong::proto;
use lienthong::proto::form_service_client::FormServiceClient;
use lienthong::proto::report_service_client::ReportServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Server address.
    #[arg(long, env = "LIENTHONG_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Bearer token (from `lienthong token issue`).
    #[arg(long, env = "LIENTHONG_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Submit a report.
    Submit {
        #[command(flatten)]
        client: ClientArgs,
        /// Reporting organ, e.g. 00004-peoples-committee.
        #[arg(long)]
        organ: String,
        /// Form code, e.g. tthc-monthly.
        #[arg(long)]
        form: String,
        /// Period id, e.g. 2025-09, 2025-Q3.
        #[arg(long)]
        period: String,
        /// JSON file of indicator values.
        #[arg(long)]
        values: PathBuf,
        /// Narrative text.
        #[arg(long, default_value = "")]
        narrative: String,
        /// Idempotency key; by default derived from organ, form and period, so
        /// re-running the same command never submits twice.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Amend a report with a complete new set of values.
    Amend {
        #[command(flatten)]
        client: ClientArgs,
        /// reports/{id}
        report: String,
        #[arg(long)]
        values: PathBuf,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "")]
        narrative: String,
        /// Fail if the report moved past this revision meanwhile.
        #[arg(long, default_value_t = 0)]
        base_revision: u32,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Accept or return a report (reviewers).
    Review {
        #[command(flatten)]
        client: ClientArgs,
        /// reports/{id}
        report: String,
        #[arg(long)]
        revision: u32,
        #[arg(long, value_enum)]
        decision: Decision,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a report: reports/{id} or reports/{id}/revisions/{n}.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        name: String,
    },
    /// List reports.
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long, default_value = "")]
        form: String,
        #[arg(long, default_value = "")]
        period: String,
        #[arg(long, default_value = "")]
        organ: String,
        #[arg(long, default_value = "")]
        locality: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Decision {
    Accept,
    Return,
}

#[derive(Debug, Args)]
pub struct ObligationsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[arg(long)]
    organ: String,
    #[arg(long, default_value = "")]
    form: String,
}

#[derive(Debug, Args)]
pub struct CompletenessArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[arg(long)]
    form: String,
    #[arg(long)]
    period: String,
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub(super) struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub(super) type Authorised = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

/// A connection to the server and the bearer token to send on it, for any
/// service's client (`XServiceClient::with_interceptor(channel, bearer)`).
pub(super) async fn authorised_channel(client: &ClientArgs) -> anyhow::Result<(Channel, Bearer)> {
    let channel = Endpoint::from_shared(client.server.clone())
        .with_context(|| format!("bad server address {:?}", client.server))?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", client.server))?;
    let bearer = Bearer(
        format!("Bearer {}", client.token)
            .parse()
            .context("the token is not valid header text")?,
    );
    Ok((channel, bearer))
}

async fn connect(
    client: &ClientArgs,
) -> anyhow::Result<(ReportServiceClient<Authorised>, FormServiceClient<Authorised>)> {
    let (channel, bearer) = authorised_channel(client).await?;
    Ok((
        ReportServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        FormServiceClient::with_interceptor(channel, bearer),
    ))
}

/// Reads `{"code": value}` and types each value by the form's indicators.
async fn read_values(
    forms: &mut FormServiceClient<Authorised>,
    form_code: &str,
    path: &Path,
) -> anyhow::Result<Vec<proto::IndicatorValue>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("{} is not a JSON object", path.display()))?;
    let form = forms
        .get_form(proto::GetFormRequest {
            name: format!("forms/{form_code}"),
        })
        .await?
        .into_inner()
        .form
        .context("server returned no form")?;
    let definition = forms
        .get_form_version(proto::GetFormVersionRequest {
            name: format!("forms/{form_code}/versions/{}", form.latest_version),
        })
        .await?
        .into_inner()
        .version
        .and_then(|version| version.definition)
        .context("server returned no form definition")?;
    Ok(object
        .into_iter()
        .map(|(code, json)| {
            let value_type = definition
                .indicators
                .iter()
                .find(|indicator| indicator.code == code)
                .map(proto::Indicator::value_type);
            proto::IndicatorValue {
                value: Some(typed_value(value_type, json)),
                indicator_code: code,
            }
        })
        .collect())
}

/// The field for a JSON value. Mismatches are sent as they are, so the server
/// reports them with every other problem.
fn typed_value(
    value_type: Option<proto::ValueType>,
    json: serde_json::Value,
) -> proto::indicator_value::Value {
    use proto::indicator_value::Value as Field;
    use serde_json::Value as Json;
    match (value_type, json) {
        (Some(proto::ValueType::MoneyVnd), Json::Number(number)) if number.is_i64() => {
            Field::MoneyVndValue(number.as_i64().unwrap_or_default())
        }
        (Some(proto::ValueType::Decimal | proto::ValueType::Percent), Json::Number(number)) => {
            Field::DecimalValue(number.to_string())
        }
        (Some(proto::ValueType::Decimal | proto::ValueType::Percent), Json::String(text)) => {
            Field::DecimalValue(text)
        }
        (_, Json::Number(number)) if number.is_i64() => {
            Field::IntegerValue(number.as_i64().unwrap_or_default())
        }
        (_, Json::Number(number)) => Field::DecimalValue(number.to_string()),
        (_, Json::Bool(flag)) => Field::BooleanValue(flag),
        (_, Json::String(text)) => Field::TextValue(text),
        (_, other) => Field::TextValue(other.to_string()),
    }
}

fn print_revision(revision: &proto::ReportRevision) -> anyhow::Result<()> {
    say!(
        "{}  form version {}  submitted {}{}",
        revision.name,
        revision.form_version,
        revision
            .submit_time
            .map(|time| time.to_string())
            .unwrap_or_default(),
        if revision.late { "  LATE" } else { "" }
    );
    if !revision.amendment_reason.is_empty() {
        say!("  reason: {}", revision.amendment_reason);
    }
    for value in &revision.values {
        use proto::indicator_value::Value as Field;
        let shown = match &value.value {
            Some(Field::IntegerValue(number) | Field::MoneyVndValue(number)) => number.to_string(),
            Some(Field::DecimalValue(text) | Field::TextValue(text)) => text.clone(),
            Some(Field::BooleanValue(flag)) => flag.to_string(),
            None => String::new(),
        };
        say!("  {:<32} {shown}", value.indicator_code);
    }
    if !revision.narrative.is_empty() {
        say!("  narrative: {}", revision.narrative);
    }
    Ok(())
}

fn print_report(report: &proto::Report) -> anyhow::Result<()> {
    say!(
        "{}  {}  {}  {}  {:?}  revision {}{}",
        report.name,
        report.organ,
        report.form_code,
        report.period,
        report.status(),
        report.latest_revision,
        if report.late { "  LATE" } else { "" }
    );
    if !report.review_comment.is_empty() {
        say!("  review by {}: {}", report.reviewed_by, report.review_comment);
    }
    Ok(())
}

pub async fn report(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Submit {
            client,
            organ,
            form,
            period,
            values,
            narrative,
            request_id,
        } => {
            let (mut reports, mut forms) = connect(&client).await?;
            let values = read_values(&mut forms, &form, &values).await?;
            let response = reports
                .submit_report(proto::SubmitReportRequest {
                    request_id: request_id.unwrap_or_else(|| format!("cli-submit-{organ}-{form}-{period}")),
                    organ,
                    form_code: form,
                    form_version: 0,
                    period,
                    values,
                    narrative,
                })
                .await?
                .into_inner();
            say!("submitted {}", response.report);
            if let Some(revision) = &response.revision {
                print_revision(revision)?;
            }
        }
        ReportCommand::Amend {
            client,
            report,
            values,
            reason,
            narrative,
            base_revision,
            request_id,
        } => {
            let (mut reports, mut forms) = connect(&client).await?;
            let current = reports
                .get_report(proto::GetReportRequest { name: report.clone() })
                .await?
                .into_inner()
                .report
                .context("server returned no report")?;
            let values = read_values(&mut forms, &current.form_code, &values).await?;
            let response = reports
                .amend_report(proto::AmendReportRequest {
                    request_id: request_id
                        .unwrap_or_else(|| format!("cli-amend-{report}-{}", current.latest_revision + 1)),
                    report,
                    base_revision,
                    form_version: 0,
                    values,
                    narrative,
                    reason,
                })
                .await?
                .into_inner();
            if let Some(revision) = &response.revision {
                print_revision(revision)?;
            }
        }
        ReportCommand::Review {
            client,
            report,
            revision,
            decision,
            comment,
            request_id,
        } => {
            let (mut reports, _) = connect(&client).await?;
            let decision = match decision {
                Decision::Accept => proto::ReviewDecision::Accept,
                Decision::Return => proto::ReviewDecision::Return,
            };
            let response = reports
                .review_report(proto::ReviewReportRequest {
                    request_id: request_id.unwrap_or_else(|| format!("cli-review-{report}-{revision}")),
                    report,
                    revision,
                    decision: decision.into(),
                    comment,
                })
                .await?
                .into_inner();
            if let Some(report) = &response.report {
                print_report(report)?;
            }
        }
        ReportCommand::Get { client, name } => {
            let (mut reports, _) = connect(&client).await?;
            let report = reports
                .get_report(proto::GetReportRequest { name })
                .await?
                .into_inner()
                .report
                .context("server returned no report")?;
            print_report(&report)?;
            if let Some(revision) = &report.revision {
                print_revision(revision)?;
            }
        }
        ReportCommand::List {
            client,
            form,
            period,
            organ,
            locality,
        } => {
            let (mut reports, _) = connect(&client).await?;
            let mut page_token = String::new();
            loop {
                let page = reports
                    .list_reports(proto::ListReportsRequest {
                        form_code: form.clone(),
                        period: period.clone(),
                        organ: organ.clone(),
                        locality_code: locality.clone(),
                        page_size: 200,
                        page_token,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                for report in &page.reports {
                    print_report(report)?;
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
    }
    Ok(())
}

pub async fn obligations(arguments: ObligationsArgs) -> anyhow::Result<()> {
    let (mut reports, _) = connect(&arguments.client).await?;
    let mut page_token = String::new();
    say!(
        "{:<20} {:<8} {:<24} {:<14} report",
        "form",
        "period",
        "deadline (UTC)",
        "status"
    );
    loop {
        let page = reports
            .list_obligations(proto::ListObligationsRequest {
                organ: arguments.organ.clone(),
                form_code: arguments.form.clone(),
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for obligation in &page.obligations {
            let status = format!(
                "{:?}{}",
                obligation.status(),
                if obligation.late { " (late)" } else { "" }
            );
            say!(
                "{:<20} {:<8} {:<24} {:<14} {}",
                obligation.form_code,
                obligation.period,
                obligation
                    .deadline_time
                    .map(|time| time.to_string())
                    .unwrap_or_default(),
                status,
                obligation.report
            );
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = page.next_page_token;
    }
}

pub async fn completeness(arguments: CompletenessArgs) -> anyhow::Result<()> {
    let (mut reports, _) = connect(&arguments.client).await?;
    let response = reports
        .get_completeness(proto::GetCompletenessRequest {
            form_code: arguments.form,
            period: arguments.period,
        })
        .await?
        .into_inner();
    say!(
        "{} {}: expected {}, submitted {} ({} on time, {} late), accepted {}, returned {}",
        response.form_code,
        response.period,
        response.expected_count,
        response.submitted_count,
        response.on_time_count,
        response.late_count,
        response.accepted_count,
        response.returned_count
    );
    say!("missing ({}):", response.missing_organs.len());
    for organ in &response.missing_organs {
        say!("  {:<32} {}", organ.id, organ.display_name);
    }
    Ok(())
}
