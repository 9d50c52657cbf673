//! `ApiError`: the one error type handlers return. It renders
//! `{"error": {"code": "...", "message": "..."}}` with a stable [`ErrorCode`]; an internal cause
//! is logged once, inside the request's span (so with its request id), when the response is
//! built, and the client sees a generic message.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    app::{Coded, INTERNAL_MESSAGE, UNAVAILABLE_MESSAGE, is_failure},
    domain::ErrorCode,
};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After` (429 `rate_limited`, 503 `overloaded`).
    pub retry_after: Option<u64>,
    /// What really failed (500 and 503): logged, never sent.
    cause: Option<String>,
}

/// The error body every endpoint uses.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `room_not_found`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with `code`'s status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// Well-formed input that breaks a rule: 422 whatever the code's usual status.
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(code, message).with_status(StatusCode::UNPROCESSABLE_ENTITY)
    }

    /// The same error under another status (the few codes answered two ways, kept as they were).
    pub fn with_status(self, status: StatusCode) -> Self {
        ApiError { status, ..self }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn too_many(retry_after: u64, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message).with_retry_after(retry_after)
    }

    /// The same error telling the client how many seconds to wait before trying again.
    pub fn with_retry_after(self, secs: u64) -> Self {
        ApiError {
            retry_after: Some(secs.max(1)),
            ..self
        }
    }

    /// A failure on our side; `cause` is logged when the response is built.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            cause: Some(cause.to_string()),
            ..Self::new(ErrorCode::Internal, INTERNAL_MESSAGE)
        }
    }

    /// A dependency (PostgreSQL, Redis) that is away; `cause` is logged when the response is built.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        ApiError {
            cause: Some(cause.to_string()),
            ..Self::new(ErrorCode::Unavailable, UNAVAILABLE_MESSAGE)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            if self.code == ErrorCode::Internal {
                tracing::error!(code = %self.code, error = %cause, "internal error");
            } else {
                tracing::warn!(code = %self.code, error = %cause, "dependency unavailable");
            }
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Every error of the use cases (and of the store beneath them) becomes an `ApiError` through
/// its code: 500 and 503 keep their cause for the log and show a generic message.
impl<E: Coded> From<E> for ApiError {
    fn from(e: E) -> Self {
        let code = e.code();
        match code {
            ErrorCode::Internal => ApiError::internal(&e),
            code if is_failure(code) => ApiError {
                code,
                ..ApiError::unavailable(&e)
            },
            _ => ApiError {
                retry_after: e.retry_after(),
                ..if e.is_validation() {
                    ApiError::invalid(code, e.to_string())
                } else {
                    ApiError::new(code, e.to_string())
                }
            },
        }
    }
}
