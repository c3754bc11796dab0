//! `lienthong dossier build`: the recommendations dossier for the central
//! government, built by a server and written as Markdown.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use lienthong::proto;
use lienthong::proto::dossier_service_client::DossierServiceClient;

use super::client::{ClientArgs, authorised_channel};

#[derive(Debug, Subcommand)]
pub enum DossierCommand {
    /// Build the dossier for a period or a range of periods and write it as
    /// Markdown (to standard output without --out).
    Build {
        #[command(flatten)]
        client: ClientArgs,
        /// The period, e.g. 2025-Q3, 2025-07 or 2025; the first of a range with --to.
        #[arg(long)]
        period: String,
        /// Last period of a range, of the same kind as --period.
        #[arg(long)]
        to: Option<String>,
        /// Include matters raised by at least this many distinct localities
        /// (escalated ones and ones addressed to the central government always).
        #[arg(long, default_value_t = 2)]
        min_localities: u32,
        /// Only matters of these topics (repeat for several).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// File to write the Markdown document to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(command: DossierCommand) -> anyhow::Result<()> {
    match command {
        DossierCommand::Build {
            client,
            period,
            to,
            min_localities,
            topics,
            out,
        } => {
            let (channel, bearer) = authorised_channel(&client).await?;
            let mut dossiers = DossierServiceClient::with_interceptor(channel, bearer);
            let dossier = dossiers
                .build_recommendation_dossier(proto::BuildRecommendationDossierRequest {
                    to_period: to.unwrap_or_else(|| period.clone()),
                    from_period: period,
                    min_distinct_localities: min_localities,
                    topics,
                })
                .await?
                .into_inner();
            match out {
                Some(path) => {
                    std::fs::write(&path, &dossier.markdown)
                        .with_context(|| format!("writing {}", path.display()))?;
                    say!(
                        "{} matters from {} localities written to {}",
                        dossier.matters.len(),
                        dossier.distinct_localities,
                        path.display()
                    );
                }
                None => say!("{}", dossier.markdown.trim_end()),
            }
            Ok(())
        }
    }
}
