//! `lienthong analytics …`: indicator roll-ups written as CSV, reporting
//! rates, recommendation clusters ranked by how widely they were raised,
//! and the "already answered" figure, read from a server's
//! AnalyticsService.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use lienthong::proto;
use lienthong::proto::analytics_service_client::AnalyticsServiceClient;

use super::client::{Authorised, ClientArgs, authorised_channel};

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Aggregate indicators of a form and write the rows as CSV (to standard
    /// output without --out), streamed as the server sends them.
    Export(ExportArgs),
    /// Reporting and on-time rates of a form per period and locality, and
    /// the city-wide trend.
    Rates(RatesArgs),
    /// Recommendation clusters ranked by the distinct localities that raised
    /// them in a range of periods.
    Clusters(ClustersArgs),
    /// Recommendations answered on submission (they matched a matter already
    /// answered), per period and bloc.
    Answered(AnsweredArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Form code, e.g. tthc-monthly.
    #[arg(long)]
    form: String,
    /// First period, of the form's periodicity, e.g. 2025-07.
    #[arg(long)]
    from: String,
    /// Last period, inclusive.
    #[arg(long)]
    to: String,
    /// Indicators to aggregate, in this order (repeat for several); every one
    /// that can be aggregated when none is given.
    #[arg(long = "indicator")]
    indicators: Vec<String>,
    /// Split rows by these dimensions (repeat for several); one row per
    /// indicator for the whole city when none is given.
    #[arg(long = "group-by", value_enum)]
    group_by: Vec<Dimension>,
    /// With --group-by period: roll the form's periods up to longer ones.
    #[arg(long, value_enum)]
    rollup: Option<Rollup>,
    /// Only organs of these communes or wards (repeat for several).
    #[arg(long = "locality")]
    localities: Vec<String>,
    /// Only organs of these blocs (repeat for several).
    #[arg(long = "bloc", value_enum)]
    blocs: Vec<BlocArg>,
    /// Only reports the owning department accepted; the rest count as missing.
    #[arg(long)]
    accepted_only: bool,
    /// CSV file to write; standard output without it.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RatesArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Form code, e.g. tthc-monthly.
    #[arg(long)]
    form: String,
    /// First period, of the form's periodicity.
    #[arg(long)]
    from: String,
    /// Last period, inclusive.
    #[arg(long)]
    to: String,
    /// Only organs of these communes or wards (repeat for several).
    #[arg(long = "locality")]
    localities: Vec<String>,
    /// Only organs of these blocs (repeat for several).
    #[arg(long = "bloc", value_enum)]
    blocs: Vec<BlocArg>,
}

#[derive(Debug, Args)]
pub struct ClustersArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// First period of the range, e.g. 2025-Q3, 2025-07 or 2025.
    #[arg(long)]
    from: String,
    /// Last period of the range, of the same kind.
    #[arg(long)]
    to: String,
    /// Only clusters raised by at least this many distinct localities in the range.
    #[arg(long, default_value_t = 0)]
    min_localities: u32,
    /// Only clusters of these topics (repeat for several).
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// At most this many clusters (the server's default, 50, when 0; at most 500).
    #[arg(long, default_value_t = 0)]
    limit: u32,
}

#[derive(Debug, Args)]
pub struct AnsweredArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// First period of the range, e.g. 2025-Q3, 2025-07 or 2025.
    #[arg(long)]
    from: String,
    /// Last period of the range, of the same kind; one set of rows per period.
    #[arg(long)]
    to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dimension {
    Locality,
    Bloc,
    Period,
    City,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Rollup {
    Quarterly,
    Semiannual,
    NineMonth,
    Annual,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BlocArg {
    Party,
    Council,
    Government,
    Front,
}

impl BlocArg {
    fn to_proto(self) -> i32 {
        match self {
            BlocArg::Party => proto::Bloc::Party,
            BlocArg::Council => proto::Bloc::Council,
            BlocArg::Government => proto::Bloc::Government,
            BlocArg::Front => proto::Bloc::Front,
        }
        .into()
    }
}

pub async fn run(command: AnalyticsCommand) -> anyhow::Result<()> {
    match command {
        AnalyticsCommand::Export(arguments) => export(arguments).await,
        AnalyticsCommand::Rates(arguments) => rates(arguments).await,
        AnalyticsCommand::Clusters(arguments) => clusters(arguments).await,
        AnalyticsCommand::Answered(arguments) => answered(arguments).await,
    }
}

async fn connect(client: &ClientArgs) -> anyhow::Result<AnalyticsServiceClient<Authorised>> {
    let (channel, bearer) = authorised_channel(client).await?;
    Ok(AnalyticsServiceClient::with_interceptor(channel, bearer))
}

/// `BLOC_PARTY` → `PARTY`: enum names as the API spells them, without the prefix.
fn enum_name(name: &'static str, prefix: &str) -> &'static str {
    name.strip_prefix(prefix).unwrap_or(name)
}

fn bloc_name(value: i32) -> &'static str {
    proto::Bloc::try_from(value).map_or("UNKNOWN", |bloc| enum_name(bloc.as_str_name(), "BLOC_"))
}

async fn export(arguments: ExportArgs) -> anyhow::Result<()> {
    let mut analytics = connect(&arguments.client).await?;
    let columns = Columns::for_dimensions(&arguments.group_by);
    let request = proto::StreamAggregateIndicatorsRequest {
        form_code: arguments.form,
        form_version: 0,
        indicator_codes: arguments.indicators,
        from_period: arguments.from,
        to_period: arguments.to,
        group_by: arguments
            .group_by
            .iter()
            .map(|dimension| {
                match dimension {
                    Dimension::Locality => proto::GroupDimension::Locality,
                    Dimension::Bloc => proto::GroupDimension::Bloc,
                    Dimension::Period => proto::GroupDimension::Period,
                    Dimension::City => proto::GroupDimension::City,
                }
                .into()
            })
            .collect(),
        rollup: arguments
            .rollup
            .map_or(proto::Periodicity::Unspecified, |rollup| match rollup {
                Rollup::Quarterly => proto::Periodicity::Quarterly,
                Rollup::Semiannual => proto::Periodicity::Semiannual,
                Rollup::NineMonth => proto::Periodicity::NineMonth,
                Rollup::Annual => proto::Periodicity::Annual,
            })
            .into(),
        locality_codes: arguments.localities,
        blocs: arguments.blocs.into_iter().map(BlocArg::to_proto).collect(),
        selection: if arguments.accepted_only {
            proto::ReportSelection::AcceptedOnly
        } else {
            proto::ReportSelection::LatestRevision
        }
        .into(),
    };
    // A refused request fails here, before anything is written.
    let mut batches = analytics.stream_aggregate_indicators(request).await?.into_inner();
    match &arguments.out {
        None => {
            let mut csv = CsvWriter::new(BufWriter::new(std::io::stdout()));
            write_rows(&mut batches, &columns, &mut csv).await?;
        }
        Some(path) => {
            // Written beside the target and renamed over it once whole: a
            // stream that breaks off leaves no half a file behind, and an
            // earlier export at that path stays as it was.
            let partial = partial_path(path);
            let file =
                std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
            let mut csv = CsvWriter::new(BufWriter::new(file));
            let written = write_rows(&mut batches, &columns, &mut csv).await;
            match written.and_then(|rows| {
                // On disk before it takes the target's name, so a crash
                // cannot leave a truncated export under it.
                csv.into_inner()?
                    .into_inner()
                    .map_err(std::io::IntoInnerError::into_error)?
                    .sync_all()?;
                std::fs::rename(&partial, path)
                    .with_context(|| format!("moving {} to {}", partial.display(), path.display()))?;
                Ok(rows)
            }) {
                Ok(rows) => say!("{rows} rows written to {}", path.display()),
                Err(error) => {
                    remove_partial(&partial);
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

/// `report.csv.partial` beside `report.csv`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn remove_partial(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::warn!(%error, path = %path.display(), "cannot remove the incomplete file");
    }
}

/// Writes the header and then each batch as it arrives, flushing after
/// each, so no more than one batch is ever held. Returns the rows written.
async fn write_rows<W: Write>(
    batches: &mut tonic::Streaming<proto::StreamAggregateIndicatorsResponse>,
    columns: &Columns,
    csv: &mut CsvWriter<W>,
) -> anyhow::Result<u64> {
    csv.record(columns.header())?;
    csv.flush()?;
    let mut rows = 0_u64;
    while let Some(batch) = batches.message().await? {
        for row in &batch.rows {
            csv.record(columns.record(row))?;
            rows += 1;
        }
        csv.flush()?;
    }
    Ok(rows)
}

/// The columns of an export: the group columns the request asked for, then
/// every per-row field of `AggregateRow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    period: bool,
    locality: bool,
    bloc: bool,
}

impl Columns {
    fn for_dimensions(dimensions: &[Dimension]) -> Columns {
        Columns {
            period: dimensions.contains(&Dimension::Period),
            locality: dimensions.contains(&Dimension::Locality),
            bloc: dimensions.contains(&Dimension::Bloc),
        }
    }

    fn header(self) -> Vec<&'static str> {
        let mut header = Vec::with_capacity(11);
        if self.period {
            header.push("period");
        }
        if self.locality {
            header.push("locality_code");
        }
        if self.bloc {
            header.push("bloc");
        }
        header.extend([
            "indicator_code",
            "aggregation",
            "value",
            "numerator_sum",
            "denominator_sum",
            "expected_reports",
            "contributing_reports",
            "missing_reports",
            "periods_not_yet_open",
        ]);
        header
    }

    fn record(self, row: &proto::AggregateRow) -> Vec<String> {
        let number = |value: Option<f64>| value.map(|value| value.to_string()).unwrap_or_default();
        let mut record = Vec::with_capacity(12);
        if self.period {
            record.push(row.period.clone());
        }
        if self.locality {
            record.push(row.locality_code.clone());
        }
        if self.bloc {
            record.push(bloc_name(row.bloc).to_owned());
        }
        record.extend([
            row.indicator_code.clone(),
            proto::Aggregation::try_from(row.aggregation)
                .map_or("UNKNOWN", |aggregation| {
                    enum_name(aggregation.as_str_name(), "AGGREGATION_")
                })
                .to_owned(),
            number(row.value),
            number(row.numerator_sum),
            number(row.denominator_sum),
            row.expected_reports.to_string(),
            row.contributing_reports.to_string(),
            row.missing_reports.to_string(),
            row.periods_not_yet_open.to_string(),
        ]);
        record
    }
}

/// A CSV writer after RFC 4180: records end in CRLF; a field holding a
/// comma, a double quote, a carriage return or a line feed is enclosed in
/// double quotes, with its double quotes doubled. Text is written as the
/// UTF-8 it is.
#[derive(Debug)]
struct CsvWriter<W: Write> {
    out: W,
}

impl<W: Write> CsvWriter<W> {
    fn new(out: W) -> Self {
        Self { out }
    }

    fn record<I>(&mut self, fields: I) -> std::io::Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for (index, field) in fields.into_iter().enumerate() {
            if index > 0 {
                self.out.write_all(b",")?;
            }
            let field = field.as_ref();
            if field.contains([',', '"', '\r', '\n']) {
                self.out.write_all(b"\"")?;
                self.out.write_all(field.replace('"', "\"\"").as_bytes())?;
                self.out.write_all(b"\"")?;
            } else {
                self.out.write_all(field.as_bytes())?;
            }
        }
        self.out.write_all(b"\r\n")
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// The output, flushed.
    fn into_inner(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `42.5%`, or `-` when there is no rate.
fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.1}%"))
}

async fn rates(arguments: RatesArgs) -> anyhow::Result<()> {
    let mut analytics = connect(&arguments.client).await?;
    let blocs: Vec<i32> = arguments.blocs.into_iter().map(BlocArg::to_proto).collect();
    let header = || -> anyhow::Result<()> {
        say!(
            "{:<10} {:<9} {:>8} {:>9} {:>7} {:>5} {:>8} {:>9} {:>8}  deadline (UTC)",
            "period",
            "locality",
            "expected",
            "submitted",
            "on time",
            "late",
            "accepted",
            "reporting",
            "on-time"
        );
        Ok(())
    };
    let line = |rate: &proto::ReportingRate, place: &str| -> anyhow::Result<()> {
        say!(
            "{:<10} {:<9} {:>8} {:>9} {:>7} {:>5} {:>8} {:>9} {:>8}  {}{}",
            rate.period,
            place,
            rate.expected_reports,
            rate.submitted_reports,
            rate.on_time_reports,
            rate.late_reports,
            rate.accepted_reports,
            percent(rate.reporting_rate),
            percent(rate.on_time_rate),
            rate.deadline_time
                .map(|time| time.to_string())
                .unwrap_or_default(),
            if rate.deadline_passed { "" } else { " (open)" }
        );
        Ok(())
    };
    let mut page_token = String::new();
    let mut city_trend = None;
    let mut form_code = String::new();
    loop {
        let page = analytics
            .get_reporting_rates(proto::GetReportingRatesRequest {
                form_code: arguments.form.clone(),
                from_period: arguments.from.clone(),
                to_period: arguments.to.clone(),
                locality_codes: arguments.localities.clone(),
                blocs: blocs.clone(),
                page_size: 1_000,
                page_token,
            })
            .await?
            .into_inner();
        if city_trend.is_none() {
            form_code = page.form_code;
            say!("{form_code}: reporting per period and locality");
            header()?;
            // The whole range's trend comes on every page; keep the first.
            city_trend = Some(page.city_trend);
        }
        for rate in &page.rates {
            line(rate, &rate.locality_code)?;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    say!("");
    say!("{form_code}: city trend");
    header()?;
    for rate in city_trend.iter().flatten() {
        line(rate, "city")?;
    }
    Ok(())
}

/// At most `limit` characters of a text on one line, `…` when cut.
fn excerpt(text: &str, limit: usize) -> String {
    let flat: String = text
        .chars()
        .map(|character| if character.is_control() { ' ' } else { character })
        .collect();
    let mut characters = flat.chars();
    let head: String = characters.by_ref().take(limit).collect();
    if characters.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

async fn clusters(arguments: ClustersArgs) -> anyhow::Result<()> {
    let mut analytics = connect(&arguments.client).await?;
    let ranked = analytics
        .rank_clusters(proto::RankClustersRequest {
            from_period: arguments.from,
            to_period: arguments.to,
            status: proto::ClusterStatus::Unspecified.into(),
            topics: arguments.topics,
            addressee: String::new(),
            min_distinct_localities: arguments.min_localities,
            limit: arguments.limit,
        })
        .await?
        .into_inner()
        .clusters;
    say!(
        "{:>4}  {:<14} {:>10}  {:<30} {:>15}  {:<20} text",
        "rank",
        "cluster",
        "localities",
        "blocs",
        "recommendations",
        "status"
    );
    for (index, ranked) in ranked.iter().enumerate() {
        let cluster = ranked.cluster.clone().unwrap_or_default();
        let blocs: Vec<&str> = ranked
            .blocs_in_range
            .iter()
            .map(|bloc| bloc_name(*bloc))
            .collect();
        say!(
            "{:>4}  {:<14} {:>10}  {:<30} {:>15}  {:<20} {}",
            index + 1,
            cluster.name,
            ranked.locality_codes_in_range.len(),
            blocs.join(","),
            ranked.recommendations_in_range,
            enum_name(cluster.status().as_str_name(), "CLUSTER_STATUS_"),
            excerpt(&cluster.representative_text, 80)
        );
    }
    Ok(())
}

async fn answered(arguments: AnsweredArgs) -> anyhow::Result<()> {
    let mut analytics = connect(&arguments.client).await?;
    let figures = analytics
        .get_answered_matches(proto::GetAnsweredMatchesRequest {
            from_period: arguments.from,
            to_period: arguments.to,
        })
        .await?
        .into_inner();
    say!(
        "{:<10} {:<11} {:>9} {:>16} {:>7}",
        "period",
        "bloc",
        "submitted",
        "already answered",
        "share"
    );
    let line = |period: &str, bloc: &str, submitted: i64, answered: i64| -> anyhow::Result<()> {
        let share = (submitted > 0).then(|| answered as f64 * 100.0 / submitted as f64);
        say!(
            "{:<10} {:<11} {:>9} {:>16} {:>7}",
            period,
            bloc,
            submitted,
            answered,
            percent(share)
        );
        Ok(())
    };
    for period in &figures.periods {
        for row in &period.blocs {
            line(
                &period.period,
                bloc_name(row.bloc),
                row.submitted,
                row.already_answered,
            )?;
        }
    }
    for row in &figures.totals {
        line("total", bloc_name(row.bloc), row.submitted, row.already_answered)?;
    }
    let submitted = figures.totals.iter().map(|row| row.submitted).sum();
    let already_answered = figures.totals.iter().map(|row| row.already_answered).sum();
    line("total", "all", submitted, already_answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(records: &[&[&str]]) -> String {
        let mut csv = CsvWriter::new(Vec::new());
        for record in records {
            csv.record(record.iter()).expect("written to memory");
        }
        String::from_utf8(csv.out).expect("UTF-8")
    }

    #[test]
    fn plain_fields_are_written_as_they_are() {
        assert_eq!(
            written(&[&["period", "value"], &["2025-Q3", "21.625"], &["", ""]]),
            "period,value\r\n2025-Q3,21.625\r\n,\r\n"
        );
    }

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(
            written(&[&[
                "Phường Ba Đình, Hà Nội",
                "say \"yes\"",
                "two\nlines",
                "cr\rhere",
                "Xã Hai"
            ]]),
            "\"Phường Ba Đình, Hà Nội\",\"say \"\"yes\"\"\",\"two\nlines\",\"cr\rhere\",Xã Hai\r\n"
        );
    }

    #[test]
    fn columns_follow_the_dimensions_asked_for() {
        let row = proto::AggregateRow {
            period: "2025-Q3".to_owned(),
            locality_code: "00004".to_owned(),
            bloc: proto::Bloc::Government.into(),
            indicator_code: "online_rate".to_owned(),
            aggregation: proto::Aggregation::Ratio.into(),
            value: Some(25.0),
            numerator_sum: Some(100.0),
            denominator_sum: Some(400.0),
            expected_reports: 3,
            contributing_reports: 1,
            missing_reports: 2,
            periods_not_yet_open: 1,
        };
        let every = Columns::for_dimensions(&[Dimension::Bloc, Dimension::Period, Dimension::Locality]);
        assert_eq!(every.header()[..3], ["period", "locality_code", "bloc"]);
        assert_eq!(
            every.record(&row),
            [
                "2025-Q3",
                "00004",
                "GOVERNMENT",
                "online_rate",
                "RATIO",
                "25",
                "100",
                "400",
                "3",
                "1",
                "2",
                "1"
            ]
        );
        let city = Columns::for_dimensions(&[Dimension::City]);
        assert_eq!(city.header().len(), 9);
        let empty = proto::AggregateRow {
            value: None,
            numerator_sum: None,
            denominator_sum: None,
            ..row
        };
        assert_eq!(
            city.record(&empty),
            ["online_rate", "RATIO", "", "", "", "3", "1", "2", "1"]
        );
    }

    #[test]
    fn excerpts_stop_at_the_limit_on_one_line() {
        assert_eq!(excerpt("Đề nghị\nbổ sung", 80), "Đề nghị bổ sung");
        assert_eq!(excerpt("Đề nghị bổ sung", 7), "Đề nghị…");
        assert_eq!(excerpt("Đề nghị", 7), "Đề nghị");
    }
}
