//! `lienthong recommendations …`: offline batch clustering with the
//! server's engine and default thresholds (`cluster`), re-indexing after an
//! upgrade (`reindex`, on the database), and bulk loading of historical
//! recommendations through a server (`import`, over gRPC).

use std::collections::HashMap;
use std::io::{BufRead as _, BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lienthong::grpc::convert::timestamp;
use lienthong::proto;
use lienthong::proto::recommendation_service_client::RecommendationServiceClient;
use lienthong_dedup::{BatchClusterer, DedupConfig, Engine, NORM_VERSION};
use lienthong_domain::period::VIETNAM_OFFSET;
use lienthong_domain::service::Services;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};
use tonic::Code;

use super::client::{Authorised, ClientArgs, authorised_channel};

#[derive(Debug, Subcommand)]
pub enum RecommendationsCommand {
    /// Cluster a JSONL file of recommendations (`{"id": …, "text": …}` per
    /// line; `bloc` and `unit` are accepted and ignored) and write
    /// `{"id": …, "cluster": …}` per input line, in input order.
    Cluster {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// The server's TOML configuration file, to decide with its `[dedup]`
        /// thresholds rather than the defaults.
        #[arg(long, env = "LIENTHONG_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Re-analyse stored recommendations after an upgrade changed the
    /// normalisation version, and rebuild the dedup index. Safe to repeat.
    Reindex {
        #[command(flatten)]
        database: super::DatabaseArgs,
    },
    /// Load a JSONL file of historical recommendations through a server.
    /// A line with `submitted_at` is imported with that time
    /// (`ImportRecommendation`, which takes an administrator's token), and
    /// such lines go oldest first, each with its `answer` if it has one
    /// (`ImportClusterAnswer`) right after it; a line without is submitted now
    /// (`SubmitRecommendation`, with the organ's own token). Safe to re-run:
    /// each line's request id comes from its `id`, so lines already
    /// recorded are replayed, not recorded twice.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// JSONL file, one object per line: `id` (string or number, unique in
    /// the file), `text`, and optionally `organ`, `addressee`, `topic`,
    /// `source`, `submitted_at` (RFC 3339, or a date `YYYY-MM-DD` read as
    /// midnight in Vietnam), and with `submitted_at` an `answer`: `text`,
    /// `document`, `document_date`, optionally `answering_organ` (the
    /// addressee by default) and `answered_at` (the start of the document's
    /// day by default, or the line's own time if later).
    file: PathBuf,
    /// Sending organ of lines without `organ`. A SUBMITTER's token submits
    /// only for its own organ; an ADMIN's imports dated lines for any organ.
    #[arg(long)]
    organ: Option<String>,
    /// Addressee (a department id or CENTRAL) of lines without `addressee`.
    #[arg(long)]
    addressee: Option<String>,
    /// Submissions in flight at once (the server still decides duplicates
    /// one at a time); 1 records the lines in file order. Lines with
    /// `submitted_at` go one at a time whatever this says, oldest first.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Request ids are `PREFIX:ID`; change the prefix only to load a second
    /// file whose ids overlap the first one's.
    #[arg(long, default_value = "import")]
    key_prefix: String,
    /// Write the failed lines to this file as JSONL (`line`, `id`, `code`,
    /// `message`, `violations`).
    #[arg(long)]
    errors: Option<PathBuf>,
    /// Ignore `submitted_at` and submit every line now, with the organ's
    /// own token.
    #[arg(long)]
    server_time: bool,
    /// No progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Deserialize)]
struct InputLine {
    id: serde_json::Value,
    text: String,
}

#[derive(Debug, Serialize)]
struct OutputLine<'a> {
    id: &'a serde_json::Value,
    cluster: &'a str,
}

/// Ids may be strings or numbers in the input; clustering keys on their text.
fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub async fn run(command: RecommendationsCommand) -> anyhow::Result<()> {
    match command {
        RecommendationsCommand::Cluster {
            input,
            output,
            config,
        } => {
            let thresholds = match config {
                Some(path) => lienthong::config::ConfigFile::load(&path)?.dedup_config()?,
                None => DedupConfig::default(),
            };
            cluster(&input, &output, thresholds)
        }
        RecommendationsCommand::Reindex { database } => {
            let store = lienthong_store::connect(&database.database_url).await?;
            let services = Services::new(store, lienthong_domain::service::system_clock());
            let reindexed = services.recommendations.reindex().await?;
            say!("{reindexed} recommendations re-analysed (normalisation version {NORM_VERSION})");
            Ok(())
        }
        RecommendationsCommand::Import(arguments) => import(&arguments).await,
    }
}

fn cluster(input: &Path, output: &Path, thresholds: DedupConfig) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?,
    );
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: InputLine = serde_json::from_str(&line)
            .with_context(|| format!("line {}: expected {{\"id\": …, \"text\": …}}", index + 1))?;
        lines.push(parsed);
    }

    let engine = Engine::new(thresholds);
    let mut clusterer = BatchClusterer::new(&engine);
    let mut labels = Vec::with_capacity(lines.len());
    let mut refused = 0_usize;
    clusterer.add_all(
        &lines,
        |line| line.text.as_str(),
        |line| id_text(&line.id),
        |position, added| match added {
            Ok(added) => labels.push(added.cluster),
            Err(problem) => {
                // Every input gets an output line; a text the server would
                // refuse stands alone.
                let id = lines
                    .get(position)
                    .map(|line| id_text(&line.id))
                    .unwrap_or_default();
                tracing::warn!(id = %id, %problem, "text refused; it forms its own cluster");
                refused += 1;
                labels.push(id);
            }
        },
    );

    let file = std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut writer = BufWriter::new(file);
    for (line, label) in lines.iter().zip(&labels) {
        serde_json::to_writer(
            &mut writer,
            &OutputLine {
                id: &line.id,
                cluster: label,
            },
        )?;
        writer.write_all(b"\n")?;
    }
    writer.flush()?;
    let mut distinct: Vec<&String> = labels.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    eprintln!(
        "{} recommendations in {} clusters ({refused} refused texts) written to {}",
        lines.len(),
        distinct.len(),
        output.display()
    );
    Ok(())
}

/// The longest request id the server accepts.
const MAX_REQUEST_ID_CHARS: usize = 128;
/// Tries of one line when the server cannot be reached; retrying is safe
/// because the request id is the same.
const MAX_ATTEMPTS: u32 = 3;
/// Failures listed on stderr; `--errors` writes them all.
const FAILURES_SHOWN: usize = 20;
/// Failure code of a line that is not a recommendation object.
const MALFORMED_LINE: &str = "MalformedLine";
/// Failure code of a line whose `id` an earlier line already used.
const DUPLICATE_ID: &str = "DuplicateId";

/// One line of an import file. Other fields are ignored; `answer`, once
/// given, must have its shape.
#[derive(Debug, Deserialize)]
struct ImportLine {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    organ: Option<String>,
    #[serde(default)]
    addressee: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    submitted_at: Option<serde_json::Value>,
    #[serde(default)]
    answer: Option<AnswerLine>,
}

/// The answer a register gives for its line.
#[derive(Debug, Deserialize)]
struct AnswerLine {
    text: String,
    document: String,
    document_date: String,
    #[serde(default)]
    answering_organ: Option<String>,
    #[serde(default)]
    answered_at: Option<String>,
}

/// A line ready to send.
#[derive(Debug)]
struct PendingLine {
    line: usize,
    id: serde_json::Value,
    request: proto::SubmitRecommendationRequest,
    /// Set: imported with this original time rather than submitted now.
    submitted_at: Option<OffsetDateTime>,
    /// Only on a line with `submitted_at`; its `cluster` is the line's,
    /// filled in once the line is recorded.
    answer: Option<proto::ImportClusterAnswerRequest>,
}

/// A line that was not recorded, as written to `--errors`.
#[derive(Debug, Serialize)]
struct FailedLine {
    line: usize,
    /// The line's `id` as given; null when the line has none.
    id: serde_json::Value,
    /// The gRPC code (`InvalidArgument`, `PermissionDenied`…), or
    /// `MalformedLine` / `DuplicateId` for lines never sent.
    code: String,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<FieldViolation>,
}

#[derive(Debug, Serialize)]
struct FieldViolation {
    field: String,
    description: String,
}

/// What the file holds once read: the lines to send and those refused.
#[derive(Debug, Default)]
struct ImportFile {
    /// Non-blank lines.
    lines: usize,
    pending: Vec<PendingLine>,
    failed: Vec<FailedLine>,
    /// Lines whose `submitted_at` `--server-time` set aside.
    times_ignored: usize,
    /// Lines whose `answer` `--server-time` set aside.
    answers_ignored: usize,
}

/// Parses every line, so a malformed one is reported with its number and
/// the others still go out.
fn read_import_file(path: &Path, arguments: &ImportArgs) -> anyhow::Result<ImportFile> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
    );
    let mut file = ImportFile::default();
    let mut first_line_of_id: HashMap<String, usize> = HashMap::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let text = line.with_context(|| format!("reading {} at line {line_number}", path.display()))?;
        if text.trim().is_empty() {
            continue;
        }
        file.lines += 1;
        let refuse = |id: serde_json::Value, code: &str, message: String| FailedLine {
            line: line_number,
            id,
            code: code.to_owned(),
            message,
            violations: Vec::new(),
        };
        let parsed: ImportLine = match serde_json::from_str(&text) {
            Ok(parsed) => parsed,
            Err(error) => {
                // Keep the id for the report if the line is JSON at all.
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|value| value.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                file.failed.push(refuse(
                    id,
                    MALFORMED_LINE,
                    format!("not a recommendation object ({error})"),
                ));
                continue;
            }
        };
        let id_text = match &parsed.id {
            serde_json::Value::String(text) if !text.trim().is_empty() => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            _ => {
                file.failed.push(refuse(
                    parsed.id,
                    MALFORMED_LINE,
                    "`id` must be a non-empty string or a number".to_owned(),
                ));
                continue;
            }
        };
        let request_id = format!("{}:{id_text}", arguments.key_prefix);
        if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            file.failed.push(refuse(
                parsed.id,
                MALFORMED_LINE,
                format!(
                    "the request id {request_id:?} would be longer than {MAX_REQUEST_ID_CHARS} characters"
                ),
            ));
            continue;
        }
        let Some(organ) = parsed
            .organ
            .or_else(|| arguments.organ.clone())
            .filter(|organ| !organ.is_empty())
        else {
            file.failed.push(refuse(
                parsed.id,
                MALFORMED_LINE,
                "no organ: give `organ` on the line or --organ".to_owned(),
            ));
            continue;
        };
        if let Some(first) = first_line_of_id.get(&id_text) {
            file.failed.push(refuse(
                parsed.id,
                DUPLICATE_ID,
                format!("id {id_text:?} is already used on line {first}"),
            ));
            continue;
        }
        if arguments.server_time && parsed.submitted_at.is_some() {
            file.times_ignored += 1;
        }
        if arguments.server_time && parsed.answer.is_some() {
            file.answers_ignored += 1;
        }
        let submitted_at = match parsed.submitted_at.filter(|_| !arguments.server_time) {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => match value.as_str().and_then(parse_submission_time) {
                Some(time) => Some(time),
                None => {
                    file.failed.push(refuse(
                        parsed.id,
                        MALFORMED_LINE,
                        format!("`submitted_at` {value} is neither an RFC 3339 time nor a date YYYY-MM-DD"),
                    ));
                    continue;
                }
            },
        };
        let addressee = parsed
            .addressee
            .or_else(|| arguments.addressee.clone())
            .unwrap_or_default();
        let answer = match (parsed.answer.filter(|_| !arguments.server_time), submitted_at) {
            (None, _) => None,
            (Some(_), None) => {
                file.failed.push(refuse(
                    parsed.id,
                    MALFORMED_LINE,
                    "an `answer` is imported with the time it was given, which needs the line's \
                     `submitted_at`"
                        .to_owned(),
                ));
                continue;
            }
            (Some(answer), Some(submitted_at)) => {
                match pending_answer(answer, submitted_at, &addressee, &request_id) {
                    Ok(answer) => Some(answer),
                    Err(message) => {
                        file.failed.push(refuse(parsed.id, MALFORMED_LINE, message));
                        continue;
                    }
                }
            }
        };
        first_line_of_id.insert(id_text, line_number);
        file.pending.push(PendingLine {
            line: line_number,
            id: parsed.id,
            request: proto::SubmitRecommendationRequest {
                organ,
                text: parsed.text,
                topic: parsed.topic.unwrap_or_default(),
                addressee,
                source: parsed.source.unwrap_or_default(),
                request_id,
            },
            submitted_at,
            answer,
        });
    }
    // The server deduplicates in arrival order, so history goes oldest
    // first, as it arrived then; lines submitted now come after it.
    file.pending
        .sort_by_key(|pending| (pending.submitted_at.is_none(), pending.submitted_at));
    Ok(file)
}

/// A line's answer ready to send once the line is recorded, or why it
/// cannot be.
fn pending_answer(
    answer: AnswerLine,
    submitted_at: OffsetDateTime,
    addressee: &str,
    line_request_id: &str,
) -> Result<proto::ImportClusterAnswerRequest, String> {
    let answering_organ = match answer.answering_organ.filter(|organ| !organ.is_empty()) {
        Some(organ) => organ,
        None if addressee.is_empty() || addressee == "CENTRAL" => {
            return Err(
                "the answer needs `answering_organ`: the line's addressee is not a department".to_owned(),
            );
        }
        None => addressee.to_owned(),
    };
    let answered_at = match &answer.answered_at {
        Some(text) => parse_submission_time(text).ok_or_else(|| {
            format!("the answer's `answered_at` {text:?} is neither an RFC 3339 time nor a date YYYY-MM-DD")
        })?,
        None => Date::parse(&answer.document_date, DATE)
            .map_err(|_| {
                format!(
                    "the answer's `document_date` {:?} is not a date YYYY-MM-DD",
                    answer.document_date
                )
            })?
            .with_time(Time::MIDNIGHT)
            .assume_offset(VIETNAM_OFFSET)
            .max(submitted_at),
    };
    if answered_at < submitted_at {
        return Err("the answer's `answered_at` is before the line's `submitted_at`".to_owned());
    }
    Ok(proto::ImportClusterAnswerRequest {
        cluster: String::new(),
        text: answer.text,
        document: answer.document,
        document_date: answer.document_date,
        answering_organ,
        answer_time: Some(timestamp(answered_at)),
        // Keys are scoped by caller and operation, so the line's own
        // request id names its answer too.
        request_id: line_request_id.to_owned(),
    })
}

/// An RFC 3339 time, or a date alone, taken as the start of that day in
/// Vietnam.
fn parse_submission_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        let date = Date::parse(text, DATE).ok()?;
        Some(date.with_time(Time::MIDNIGHT).assume_offset(VIETNAM_OFFSET))
    })
}

/// A date as the server takes it, `YYYY-MM-DD`.
const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// The tally the summary prints.
#[derive(Debug, Default)]
struct Tally {
    submitted: u64,
    replayed: u64,
    outcomes: HashMap<proto::DedupOutcome, u64>,
    /// Answers recorded (or replayed), and answers their cluster already had.
    answers_recorded: u64,
    answers_already_there: u64,
    failed: Vec<FailedLine>,
    /// Answers refused, each under its line, whose recommendation counts
    /// as submitted or replayed.
    answers_failed: Vec<FailedLine>,
}

async fn import(arguments: &ImportArgs) -> anyhow::Result<()> {
    let file = read_import_file(&arguments.file, arguments)?;
    if file.times_ignored > 0 {
        eprintln!(
            "note: --server-time: {} lines are recorded with the time they reach the server, not their submitted_at",
            file.times_ignored
        );
    }
    if file.answers_ignored > 0 {
        eprintln!(
            "note: --server-time: the answers of {} lines are set aside; an answer is imported with the time it \
             was given",
            file.answers_ignored
        );
    }
    let (channel, bearer) = authorised_channel(&arguments.client).await?;
    let service = RecommendationServiceClient::with_interceptor(channel, bearer);
    let newest_before = newest_recommendations(&service, &file.pending).await?;

    let bar = progress_bar(file.lines, arguments.quiet)?;
    let mut tally = Tally {
        failed: file.failed,
        ..Tally::default()
    };
    bar.inc(tally.failed.len() as u64);
    bar.set_message(format!("{} failed", tally.failed.len()));
    let concurrency = usize::from(arguments.concurrency);
    let mut queue = file.pending.into_iter().peekable();
    let mut in_flight = tokio::task::JoinSet::new();
    // Set while a dated line is in flight: nothing goes out beside it.
    let mut dated_in_flight = false;
    loop {
        while in_flight.len() < concurrency && !dated_in_flight {
            // One dated line at a time, so that each is deduplicated against
            // exactly the history before it.
            let dated_next = queue.peek().is_some_and(|pending| pending.submitted_at.is_some());
            if dated_next && !in_flight.is_empty() {
                break;
            }
            let Some(pending) = queue.next() else { break };
            dated_in_flight = pending.submitted_at.is_some();
            let service = service.clone();
            in_flight.spawn(async move {
                let result = submit(&service, &pending).await;
                (pending, result)
            });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (mut pending, result) = joined.context("a submission task failed")?;
        dated_in_flight = false;
        match result {
            Ok(response) => {
                let id = response
                    .recommendation
                    .as_ref()
                    .and_then(|recommendation| recommendation_id(&recommendation.name));
                let newest = newest_before.get(&pending.request.organ).copied().flatten();
                if id.zip(newest).is_some_and(|(id, newest)| id <= newest) {
                    tally.replayed += 1;
                } else {
                    tally.submitted += 1;
                }
                *tally.outcomes.entry(response.outcome()).or_default() += 1;
                // Right after its line, before any later one: the server
                // settles an imported line on arrival only by an answer
                // given at or before its time, so lines between the two
                // still join.
                if let (Some(mut answer), Some(recorded)) = (pending.answer.take(), &response.recommendation)
                {
                    answer.cluster.clone_from(&recorded.cluster);
                    if let Err(error) = import_answer(&service, pending, answer, &mut tally).await {
                        bar.finish_and_clear();
                        return Err(error);
                    }
                    bar.set_message(format!("{} failed", tally.failed.len()));
                }
            }
            Err(status) if status.code() == Code::Unauthenticated => {
                // No other line can succeed with this token.
                in_flight.abort_all();
                bar.finish_and_clear();
                eprintln!(
                    "import stopped at line {}: the server refused the token; \
                     re-running the import resumes it safely",
                    pending.line
                );
                return Err(status.into());
            }
            Err(status) if status.code() == Code::PermissionDenied && pending.submitted_at.is_some() => {
                // Every dated line would be refused the same way.
                in_flight.abort_all();
                bar.finish_and_clear();
                eprintln!(
                    "import stopped at line {}: lines with submitted_at are imported with their original \
                     time, which takes an administrator's token; use one, or --server-time to submit \
                     them now with the organ's own",
                    pending.line
                );
                return Err(status.into());
            }
            Err(status) => {
                tally.failed.push(failed_line(pending, &status));
                bar.set_message(format!("{} failed", tally.failed.len()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    print_summary(&arguments.file, file.lines, &tally)?;
    let (lines_failed, answers_failed) = (tally.failed.len(), tally.answers_failed.len());
    let mut failures = tally.failed;
    failures.append(&mut tally.answers_failed);
    failures.sort_by_key(|failed| failed.line);
    report_failures(&failures, arguments.errors.as_deref())?;
    match (lines_failed, answers_failed) {
        (0, 0) => Ok(()),
        (_, 0) => anyhow::bail!("{lines_failed} of {} lines failed", file.lines),
        (0, _) => anyhow::bail!("{answers_failed} answers failed"),
        _ => anyhow::bail!(
            "{lines_failed} of {} lines and {answers_failed} answers failed",
            file.lines
        ),
    }
}

/// For each organ in the file, the id of its newest recommendation before
/// the import starts (0 when it has none). Ids only grow, so a response
/// naming a recommendation at or below it is a replay of an earlier run,
/// and anything above was recorded now. `None` when the organ's list cannot
/// be read; its lines then count as submitted (they fail anyway if the
/// token may not list them, since it may then not submit them either).
async fn newest_recommendations(
    service: &RecommendationServiceClient<Authorised>,
    pending: &[PendingLine],
) -> anyhow::Result<HashMap<String, Option<i64>>> {
    let mut newest = HashMap::new();
    for line in pending {
        let organ = &line.request.organ;
        if newest.contains_key(organ) {
            continue;
        }
        let listed = service
            .clone()
            .list_recommendations(proto::ListRecommendationsRequest {
                organ: organ.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await;
        let id = match listed {
            Ok(response) => Some(
                response
                    .into_inner()
                    .recommendations
                    .first()
                    .and_then(|recommendation| recommendation_id(&recommendation.name))
                    .unwrap_or(0),
            ),
            Err(status) if status.code() == Code::Unauthenticated => return Err(status.into()),
            Err(_) => None,
        };
        newest.insert(organ.clone(), id);
    }
    Ok(newest)
}

/// Sends one line, retrying while the server is unreachable: submitted now,
/// or imported with its original time.
async fn submit(
    service: &RecommendationServiceClient<Authorised>,
    pending: &PendingLine,
) -> Result<proto::SubmitRecommendationResponse, tonic::Status> {
    retrying(|| {
        let mut service = service.clone();
        async move {
            match pending.submitted_at {
                None => service.submit_recommendation(pending.request.clone()).await,
                Some(submitted_at) => service
                    .import_recommendation(import_request(&pending.request, submitted_at))
                    .await
                    .map(|response| response.map(submission_response)),
            }
        }
    })
    .await
}

/// What `send` returns, sent again while the server is unreachable; safe
/// because a retry carries the same request id.
async fn retrying<T, Sent>(mut send: impl FnMut() -> Sent) -> Result<T, tonic::Status>
where
    Sent: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(status)
                if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded)
                    && attempt < MAX_ATTEMPTS =>
            {
                tokio::time::sleep(Duration::from_millis(500) * attempt).await;
                attempt += 1;
            }
            result => return result.map(tonic::Response::into_inner),
        }
    }
}

/// Imports a recorded line's answer into the line's cluster. A cluster
/// already answered with the same document (another line of the register
/// gave the same answer) counts as answered; any other refusal is the
/// line's failure.
async fn import_answer(
    service: &RecommendationServiceClient<Authorised>,
    pending: PendingLine,
    answer: proto::ImportClusterAnswerRequest,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let sent = retrying(|| {
        let (mut service, request) = (service.clone(), answer.clone());
        async move { service.import_cluster_answer(request).await }
    })
    .await;
    let status = match sent {
        Ok(_) => {
            tally.answers_recorded += 1;
            return Ok(());
        }
        Err(status) if status.code() == Code::Unauthenticated => {
            eprintln!(
                "import stopped at the answer of line {}: the server refused the token; \
                 re-running the import resumes it safely",
                pending.line
            );
            return Err(status.into());
        }
        Err(status) => status,
    };
    if status.code() == Code::FailedPrecondition {
        let read = retrying(|| {
            let mut service = service.clone();
            let request = proto::GetClusterRequest {
                name: answer.cluster.clone(),
            };
            async move { service.get_cluster(request).await }
        })
        .await;
        let given = read.ok().and_then(|read| read.cluster?.answer);
        if given.is_some_and(|given| given.document == answer.document && given.text == answer.text) {
            tally.answers_already_there += 1;
            return Ok(());
        }
    }
    let mut failed = failed_line(pending, &status);
    failed.message = format!("its answer: {}", failed.message);
    tally.answers_failed.push(failed);
    Ok(())
}

fn import_request(
    request: &proto::SubmitRecommendationRequest,
    submitted_at: OffsetDateTime,
) -> proto::ImportRecommendationRequest {
    let request = request.clone();
    proto::ImportRecommendationRequest {
        organ: request.organ,
        text: request.text,
        topic: request.topic,
        addressee: request.addressee,
        source: request.source,
        submit_time: Some(timestamp(submitted_at)),
        request_id: request.request_id,
    }
}

/// An import's response, which carries what a submission's does.
fn submission_response(response: proto::ImportRecommendationResponse) -> proto::SubmitRecommendationResponse {
    proto::SubmitRecommendationResponse {
        recommendation: response.recommendation,
        outcome: response.outcome,
        matched: response.matched,
        answer: response.answer,
        suggestions: response.suggestions,
    }
}

fn recommendation_id(name: &str) -> Option<i64> {
    name.strip_prefix("recommendations/")?.parse().ok()
}

fn failed_line(pending: PendingLine, status: &tonic::Status) -> FailedLine {
    use tonic_types::StatusExt as _;
    let violations = status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| FieldViolation {
                    field: violation.field,
                    description: violation.description,
                })
                .collect()
        })
        .unwrap_or_default();
    FailedLine {
        line: pending.line,
        id: pending.id,
        code: format!("{:?}", status.code()),
        message: status.message().to_owned(),
        violations,
    }
}

/// A bar on stderr when it is a terminal and not `--quiet`; hidden otherwise.
fn progress_bar(lines: usize, quiet: bool) -> anyhow::Result<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(lines as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} lines, {per_sec:1}, eta {eta}, {msg}",
        )?
        .progress_chars("=> "),
    );
    Ok(bar)
}

fn print_summary(path: &Path, lines: usize, tally: &Tally) -> anyhow::Result<()> {
    say!(
        "{}: {lines} lines, {} submitted, {} replayed, {} failed",
        path.display(),
        tally.submitted,
        tally.replayed,
        tally.failed.len()
    );
    let outcomes: Vec<String> = [
        (proto::DedupOutcome::NewCluster, "NEW_CLUSTER"),
        (proto::DedupOutcome::JoinedCluster, "JOINED_CLUSTER"),
        (proto::DedupOutcome::AlreadyAnswered, "ALREADY_ANSWERED"),
        (proto::DedupOutcome::NeedsReview, "NEEDS_REVIEW"),
    ]
    .into_iter()
    .map(|(outcome, name)| format!("{name} {}", tally.outcomes.get(&outcome).copied().unwrap_or(0)))
    .collect();
    say!("outcomes: {}", outcomes.join(", "));
    if tally.answers_recorded + tally.answers_already_there > 0 || !tally.answers_failed.is_empty() {
        say!(
            "answers: {} recorded, {} already given, {} failed",
            tally.answers_recorded,
            tally.answers_already_there,
            tally.answers_failed.len()
        );
    }
    if !tally.failed.is_empty() {
        let mut codes: Vec<(&str, usize)> = Vec::new();
        for failed in &tally.failed {
            match codes.iter_mut().find(|(code, _)| *code == failed.code) {
                Some((_, count)) => *count += 1,
                None => codes.push((&failed.code, 1)),
            }
        }
        codes.sort_unstable();
        let codes: Vec<String> = codes
            .into_iter()
            .map(|(code, count)| format!("{code} {count}"))
            .collect();
        say!("failed: {}", codes.join(", "));
    }
    Ok(())
}

/// Lists the first failures on stderr and writes them all to `errors`.
fn report_failures(failed: &[FailedLine], errors: Option<&Path>) -> anyhow::Result<()> {
    for failure in failed.iter().take(FAILURES_SHOWN) {
        eprintln!(
            "line {} (id {}): {}: {}",
            failure.line, failure.id, failure.code, failure.message
        );
        for violation in &failure.violations {
            eprintln!("  {}: {}", violation.field, violation.description);
        }
    }
    if failed.len() > FAILURES_SHOWN {
        eprintln!(
            "… and {} more failed lines{}",
            failed.len() - FAILURES_SHOWN,
            if errors.is_some() {
                ""
            } else {
                " (--errors FILE lists them all)"
            }
        );
    }
    if let Some(path) = errors {
        let mut writer = BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for failure in failed {
            serde_json::to_writer(&mut writer, failure)?;
            writer.write_all(b"\n")?;
        }
        writer.flush()?;
    }
    Ok(())
}
