//! The one place a domain error becomes a gRPC status. The match is
//! exhaustive on purpose: a new error variant must decide its code here.

use lienthong_domain::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

pub fn to_status(error: Error) -> Status {
    match error {
        Error::InvalidArgument(violations) => {
            let message = match violations.as_slice() {
                [only] => format!("invalid {}: {}", only.field, only.description),
                many => format!("{} invalid fields; see the BadRequest details", many.len()),
            };
            let field_violations: Vec<FieldViolation> = violations
                .into_iter()
                .map(|violation| FieldViolation::new(violation.field, violation.description))
                .collect();
            Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request(field_violations),
            )
        }
        Error::NotFound { kind, name } => Status::with_error_details(
            Code::NotFound,
            format!("{kind} {name} not found"),
            ErrorDetails::with_resource_info(kind.as_str(), name, "", "not found"),
        ),
        Error::AlreadyExists { kind, name, reason } => Status::with_error_details(
            Code::AlreadyExists,
            format!("{kind} {name} already exists: {reason}"),
            ErrorDetails::with_resource_info(kind.as_str(), name, "", reason),
        ),
        Error::FailedPrecondition {
            violation_type,
            subject,
            description,
        } => Status::with_error_details(
            Code::FailedPrecondition,
            description.clone(),
            ErrorDetails::with_precondition_failure_violation(violation_type, subject, description),
        ),
        Error::ResourceExhausted { subject, description } => Status::with_error_details(
            Code::ResourceExhausted,
            description.clone(),
            ErrorDetails::with_quota_failure_violation(subject, description),
        ),
        Error::Unauthenticated(reason) => Status::unauthenticated(reason),
        Error::PermissionDenied(reason) => Status::permission_denied(reason),
        Error::Internal(detail) => {
            // Callers get an opaque message; the detail is for operators.
            tracing::error!(error = %detail, "internal error");
            Status::internal("internal error; the server log has the details")
        }
    }
}
