//! The one error type of the HTTP API: a stable code, a status, a message; JSON body
//! `{"error":{"code":"...","message":"..."}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{BrokerError, channel::ChannelError, logql};

/// An API error. Messages never carry a key or other secret.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

/// Put on error responses so the metrics middleware can count rejections by code.
#[derive(Debug, Clone, Copy)]
pub struct Rejected(pub &'static str);

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key>)",
        )
    }

    pub fn forbidden(what: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this API key may not {what}"),
        )
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many events for this key; retry in {retry_after} s"),
            )
        }
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Storage or an internal task failed: the cause is logged, the client gets 503 and may
    /// retry (nothing was half written).
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "log storage failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the log storage failed; retry later",
        )
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::InvalidChannel(_) => {
                ApiError::bad_request("invalid_channel", e.to_string())
            }
            BrokerError::UnknownChannel(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_channel", e.to_string())
            }
            BrokerError::TooManyChannels(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_channels",
                e.to_string(),
            ),
            BrokerError::Channel(c) => c.into(),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Io(io) => ApiError::unavailable(&io),
            ChannelError::OffsetOutOfRange { .. } => {
                ApiError::bad_request("offset_out_of_range", e.to_string())
            }
            ChannelError::TooManyStreams(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_streams",
                e.to_string(),
            ),
            ChannelError::TooManyGroups(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_groups",
                e.to_string(),
            ),
        }
    }
}

impl From<logql::ParseError> for ApiError {
    fn from(e: logql::ParseError) -> Self {
        ApiError::bad_request("invalid_query", e.to_string())
    }
}

impl From<logql::QueryError> for ApiError {
    fn from(e: logql::QueryError) -> Self {
        match e {
            logql::QueryError::TooLarge(m) => ApiError::bad_request("query_too_large", m),
            logql::QueryError::Io(io) => ApiError::unavailable(&io),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::unavailable(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.extensions_mut().insert(Rejected(self.code));
        response
    }
}
