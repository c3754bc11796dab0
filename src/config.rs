//! Server configuration. Each setting comes from, in order of precedence, a
//! command-line flag, an environment variable, the TOML file named by
//! `--config`, or the default.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use lienthong_dedup::DedupConfig;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The embedded default: an SQLite file under `./lienthong-data/`, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lienthong-data/lienthong.db";
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_DATABASE_MAX_CONNECTIONS: u32 = 8;
const DEFAULT_ANALYTICS_MAX_ROWS: usize = 10_000;

/// Settings as given on the command line or in the environment; `None` when not given.
#[derive(Debug, Clone, Default)]
pub struct ServerOverrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
}

/// The TOML configuration file. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on, e.g. "0.0.0.0:50051".
    pub listen: Option<SocketAddr>,
    /// `sqlite://path` or `postgres://user@host/db`.
    pub database_url: Option<String>,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace_seconds: Option<u64>,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: Option<usize>,
    /// Longest a single request may run, in seconds.
    pub request_timeout_seconds: Option<u64>,
    /// Most database connections the server holds open.
    pub database_max_connections: Option<u32>,
    /// Most rows AggregateIndicators returns; longer results fail with
    /// RESOURCE_EXHAUSTED and are streamed instead.
    pub analytics_max_rows: Option<usize>,
    /// Thresholds of recommendation deduplication (`[dedup]` table); every
    /// key must be given. The defaults are the ones the offline
    /// `recommendations cluster` command uses.
    pub dedup: Option<DedupConfig>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The `[dedup]` settings, or the defaults; refused when out of range.
    pub fn dedup_config(&self) -> anyhow::Result<DedupConfig> {
        let config = self.dedup.clone().unwrap_or_default();
        let problems = config.problems();
        anyhow::ensure!(problems.is_empty(), "[dedup]: {}", problems.join("; "));
        Ok(config)
    }
}

/// The resolved settings of a server.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub shutdown_grace: Duration,
    pub max_message_bytes: usize,
    pub request_timeout: Duration,
    pub database_max_connections: u32,
    pub analytics_max_rows: usize,
    pub dedup: DedupConfig,
}

impl ServerConfig {
    pub fn resolve(overrides: ServerOverrides, file: ConfigFile) -> anyhow::Result<ServerConfig> {
        let listen = match overrides.listen.or(file.listen) {
            Some(listen) => listen,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let dedup = file.dedup_config()?;
        Ok(ServerConfig {
            listen,
            database_url: overrides
                .database_url
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            shutdown_grace: file
                .shutdown_grace_seconds
                .map_or(DEFAULT_SHUTDOWN_GRACE, Duration::from_secs),
            max_message_bytes: file.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            request_timeout: file
                .request_timeout_seconds
                .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_secs),
            database_max_connections: file
                .database_max_connections
                .unwrap_or(DEFAULT_DATABASE_MAX_CONNECTIONS),
            analytics_max_rows: file.analytics_max_rows.unwrap_or(DEFAULT_ANALYTICS_MAX_ROWS),
            dedup,
        })
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("database_url", &redact_password(&self.database_url))
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("database_max_connections", &self.database_max_connections)
            .field("analytics_max_rows", &self.analytics_max_rows)
            .field("dedup", &self.dedup)
            .finish()
    }
}

/// A database URL fit for logs: the password, if any, replaced by `***`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let file: ConfigFile = toml::from_str(
            "listen = \"0.0.0.0:6000\"\ndatabase_url = \"postgres://a@b/c\"\nshutdown_grace_seconds = 3\n",
        )
        .expect("valid toml");
        let resolved = ServerConfig::resolve(
            ServerOverrides {
                listen: Some("127.0.0.1:7000".parse().expect("address")),
                database_url: None,
            },
            file,
        )
        .expect("resolves");
        assert_eq!(resolved.listen.port(), 7000);
        assert_eq!(resolved.database_url, "postgres://a@b/c");
        assert_eq!(resolved.shutdown_grace, Duration::from_secs(3));
        let defaults =
            ServerConfig::resolve(ServerOverrides::default(), ConfigFile::default()).expect("resolves");
        assert_eq!(defaults.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(defaults.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(defaults.dedup, DedupConfig::default());
        assert_eq!(defaults.analytics_max_rows, DEFAULT_ANALYTICS_MAX_ROWS);
    }

    #[test]
    fn the_analytics_row_limit_comes_from_the_file() {
        let file: ConfigFile = toml::from_str("analytics_max_rows = 250\n").expect("valid toml");
        let resolved = ServerConfig::resolve(ServerOverrides::default(), file).expect("resolves");
        assert_eq!(resolved.analytics_max_rows, 250);
    }

    #[test]
    fn dedup_thresholds_come_from_the_file() {
        let file: ConfigFile = toml::from_str(
            "[dedup]\nlink_threshold = 0.6\nreview_threshold = 0.45\ncanonical_threshold = 0.5\n\
             max_candidates = 40\nmax_review_suggestions = 3\n",
        )
        .expect("valid toml");
        let resolved = ServerConfig::resolve(ServerOverrides::default(), file).expect("resolves");
        assert!((resolved.dedup.link_threshold - 0.6).abs() < f64::EPSILON);
        assert_eq!(resolved.dedup.max_candidates, 40);
    }

    #[test]
    fn a_partial_dedup_table_keeps_the_other_defaults_and_typos_are_refused() {
        let file: ConfigFile = toml::from_str(
            "[dedup]
max_postings_per_band = 16
",
        )
        .expect("valid toml");
        let resolved = ServerConfig::resolve(ServerOverrides::default(), file).expect("resolves");
        assert_eq!(
            resolved.dedup,
            DedupConfig {
                max_postings_per_band: 16,
                ..DedupConfig::default()
            }
        );
        assert!(
            toml::from_str::<ConfigFile>(
                "[dedup]
link_treshold = 0.5
"
            )
            .is_err()
        );
    }

    #[test]
    fn dedup_settings_out_of_range_are_refused() {
        let file: ConfigFile = toml::from_str(
            "[dedup]
max_postings_per_band = 100
link_threshold = -1.0
",
        )
        .expect("valid toml");
        let error = ServerConfig::resolve(ServerOverrides::default(), file)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("max_postings_per_band"), "{error}");
        assert!(error.contains("link_threshold"), "{error}");
    }

    #[test]
    fn unknown_keys_are_rejected_and_passwords_redacted() {
        assert!(toml::from_str::<ConfigFile>("lisen = \"x\"").is_err());
        assert_eq!(
            redact_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_password("sqlite://a/b.db"), "sqlite://a/b.db");
    }
}
