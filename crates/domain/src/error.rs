//! The one error type of the domain. Every layer above maps it to its own
//! vocabulary (gRPC status in `src/grpc/status.rs`, exit codes in the CLI), so
//! variants name what went wrong for the caller, not where.

use std::fmt;

/// One invalid field of a request, in the form callers see it: a path into the
/// request (`values[dossiers_online]`, `draft.indicators[2].code`) and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects every violation of a request so callers learn all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was found, else the collected `InvalidArgument`.
    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

/// What kind of thing an error is about, for `NotFound`/`AlreadyExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Locality,
    Organ,
    Form,
    FormVersion,
    Report,
    ReportRevision,
    Resolution,
    Token,
    IdempotencyKey,
    Recommendation,
    Cluster,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Locality => "locality",
            ResourceKind::Organ => "organ",
            ResourceKind::Form => "form",
            ResourceKind::FormVersion => "form version",
            ResourceKind::Report => "report",
            ResourceKind::ReportRevision => "report revision",
            ResourceKind::Resolution => "resolution",
            ResourceKind::Token => "token",
            ResourceKind::IdempotencyKey => "request id",
            ResourceKind::Recommendation => "recommendation",
            ResourceKind::Cluster => "cluster",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; every offending field is listed.
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{kind} {name} not found")]
    NotFound { kind: ResourceKind, name: String },
    #[error("{kind} {name} already exists: {reason}")]
    AlreadyExists {
        kind: ResourceKind,
        name: String,
        reason: String,
    },
    /// The resource is not in a state that allows the operation.
    #[error("failed precondition: {description}")]
    FailedPrecondition {
        /// A short machine-readable type, e.g. `REPORT_STATUS` or `STALE_REVISION`.
        violation_type: &'static str,
        subject: String,
        description: String,
    },
    /// The answer would exceed a limit of the server; `subject` names the
    /// limit, `description` says how to ask for less.
    #[error("resource exhausted: {description}")]
    ResourceExhausted { subject: String, description: String },
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The store failed; the message is for logs only, never for callers.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    pub fn not_found(kind: ResourceKind, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
        }
    }

    pub fn internal(source: impl fmt::Display) -> Self {
        Error::Internal(source.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
