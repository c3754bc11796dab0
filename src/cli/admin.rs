//! Administrative commands, run directly on the database.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use lienthong_domain::auth::{Role, parse_duration};
use lienthong_domain::directory::parse_directory;
use lienthong_domain::service::Services;

use super::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it (it is shown only this once).
    Issue {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Organ the token acts for, e.g. 00004-peoples-committee.
        #[arg(long)]
        organ: String,
        /// SUBMITTER, REVIEWER, ANALYST or ADMIN; repeat for several.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// Validity, e.g. 90d, 12h, 2w; without it the token does not expire.
        #[arg(long, value_parser = parse_validity)]
        expires: Option<time::Duration>,
        /// A note on who holds the token.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Load or update localities and organs from a TSV or CSV file with the
    /// columns code, full_name, province_code. Running it twice is harmless.
    Import {
        #[command(flatten)]
        database: DatabaseArgs,
        file: PathBuf,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("{text:?} is not one of SUBMITTER, REVIEWER, ANALYST, ADMIN"))
}

fn parse_validity(text: &str) -> Result<time::Duration, String> {
    parse_duration(text).ok_or_else(|| format!("{text:?} is not a duration like 90d, 12h, 30m or 2w"))
}

async fn services(database: &DatabaseArgs) -> anyhow::Result<Services> {
    let store = lienthong_store::connect(&database.database_url).await?;
    Ok(Services::new(store, lienthong_domain::service::system_clock()))
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue {
            database,
            organ,
            roles,
            expires,
            label,
        } => {
            let issued = services(&database)
                .await?
                .tokens
                .issue(&organ, &roles, &label, expires)
                .await?;
            eprintln!(
                "token {} for {} ({}); store it now, it is not shown again",
                issued.record.id,
                issued.record.organ_id,
                roles
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            say!("{}", issued.secret);
        }
        TokenCommand::List { database } => {
            let now = time::OffsetDateTime::now_utc();
            say!(
                "{:>5}  {:<32} {:<24} {:<10} label",
                "id",
                "organ",
                "roles",
                "state"
            );
            for token in services(&database).await?.tokens.list().await? {
                let roles: Vec<&str> = token.roles.iter().map(|role| role.as_str()).collect();
                let state = match token.unusable_reason(now) {
                    None => "active",
                    Some(_) if token.revoked_at.is_some() => "revoked",
                    Some(_) => "expired",
                };
                say!(
                    "{:>5}  {:<32} {:<24} {:<10} {}",
                    token.id,
                    token.organ_id,
                    roles.join(","),
                    state,
                    token.label
                );
            }
        }
        TokenCommand::Revoke { database, id } => {
            services(&database).await?.tokens.revoke(id).await?;
            say!("token {id} revoked");
        }
    }
    Ok(())
}

pub async fn directory(command: DirectoryCommand) -> anyhow::Result<()> {
    match command {
        DirectoryCommand::Import { database, file } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let directory = parse_directory(&text)?;
            let summary = services(&database).await?.directory.import(&directory).await?;
            say!(
                "localities: {} added, {} updated; organs: {} added, {} updated",
                summary.localities_added,
                summary.localities_updated,
                summary.organs_added,
                summary.organs_updated
            );
        }
    }
    Ok(())
}

pub async fn demo(database: &DatabaseArgs) -> anyhow::Result<()> {
    let store = lienthong_store::connect(&database.database_url).await?;
    let summary = lienthong::demo::load(store, time::OffsetDateTime::now_utc()).await?;
    say!(
        "demo data: {} localities, {} organs, {} forms created, {} sample reports, {} sample recommendations",
        summary.localities,
        summary.organs,
        summary.forms_created,
        summary.reports,
        summary.recommendations
    );
    Ok(())
}
