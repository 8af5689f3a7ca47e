//! Every failure of a request as one JSON error response: a 4xx (or 5xx for the backend's
//! own failures) with `{"error": {"code", "message", "detail"}}`. Nothing a client sends can
//! make a handler panic or hang; it ends here instead.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use roster_types::api::{ErrorBody, ErrorDetail};
use roster_types::error::CoordinationError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The coordination call failed.
    #[error(transparent)]
    Coordination(#[from] CoordinationError),
    /// The request is malformed: bad JSON, a missing field, a bad query or path value.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the daemon accepts.
    #[error("request body too large: {0}")]
    TooLarge(String),
    /// No open session has this id (it was closed, or expired long ago).
    #[error("no open session {0:?}; open a new one")]
    SessionNotFound(String),
    /// The daemon holds as many sessions as it is configured for.
    #[error("the daemon already holds its limit of {0} sessions")]
    TooManySessions(usize),
    /// No route matches the path.
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// The daemon is shutting down.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The daemon needs a token and the request names none, or one it does not know.
    #[error("{0}")]
    Unauthenticated(String),
    /// The token's role may not make this call.
    #[error("{0}")]
    Forbidden(String),
    /// The token is limited to group-name prefixes and the call reaches beyond them.
    #[error("{0}")]
    OutOfScope(String),
    /// The store does not answer (readiness).
    #[error("the store does not answer: {0}")]
    StoreUnavailable(String),
    /// A component sent to be attached is not a handler the host can run.
    #[error("{0}")]
    InvalidPlugin(String),
    /// No plugin of that name is attached.
    #[error("no plugin named {0:?} is attached")]
    PluginNotFound(String),
    /// The daemon failed on its side (it could not keep an uploaded component, or its
    /// WebAssembly engine failed).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        use CoordinationError as E;
        match self {
            Self::Coordination(error) => match error {
                E::GroupNotCreated(_) | E::MemberNotJoined { .. } | E::WatchCallbackNotFound(_) => {
                    StatusCode::NOT_FOUND
                }
                E::GroupAlreadyExist(_)
                | E::MemberAlreadyExist { .. }
                | E::GroupNotEmpty(_)
                | E::NotStarted
                | E::AlreadyStarted
                | E::LockNotHeld(_) => StatusCode::CONFLICT,
                E::MemberExpired { .. } | E::SessionExpired { .. } | E::HistoryLost { .. } => {
                    StatusCode::GONE
                }
                E::InvalidId { .. } | E::InvalidUrl { .. } => StatusCode::BAD_REQUEST,
                E::CapabilitiesTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                E::NotPermitted(_) => StatusCode::FORBIDDEN,
                E::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
                E::OperationTimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
                E::Connection(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SessionNotFound(_) | Self::NotFound(_) | Self::PluginNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Self::InvalidPlugin(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TooManySessions(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ShuttingDown | Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::OutOfScope(_) => StatusCode::FORBIDDEN,
        }
    }

    fn detail(&self) -> ErrorDetail {
        let code = match self {
            Self::Coordination(error) => return ErrorDetail::from(error),
            Self::BadRequest(_) => "bad-request",
            Self::TooLarge(_) => "payload-too-large",
            Self::SessionNotFound(_) => "session-not-found",
            Self::TooManySessions(_) => "too-many-sessions",
            Self::NotFound(_) => "not-found",
            Self::ShuttingDown => "shutting-down",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::OutOfScope(_) => "out-of-scope",
            Self::StoreUnavailable(_) => "store-unavailable",
            Self::InvalidPlugin(_) => "invalid-component",
            Self::PluginNotFound(_) => "plugin-not-found",
            Self::Internal(_) => "internal",
        };
        ErrorDetail {
            code: code.to_owned(),
            message: self.to_string(),
            detail: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        } else {
            tracing::debug!(%status, error = %self, "request refused");
        }
        let challenge = matches!(self, Self::Unauthenticated(_));
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.detail(),
            }),
        )
            .into_response();
        if challenge {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::TooLarge(e.body_text())
            }
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by schemathesis: the document's list of error codes lacked the daemon's own
    /// (`unauthenticated`, `forbidden`, `out-of-scope`, `store-unavailable`).
    #[test]
    fn every_code_the_daemon_answers_with_is_in_the_document() {
        let doc: serde_json::Value = serde_json::from_str(roster_types::api::OPENAPI).unwrap();
        let documented = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"];
        let text = String::new;
        // A new variant does not compile here until it is added to the list below.
        let _listed = |error: &ApiError| match error {
            ApiError::Coordination(_)
            | ApiError::BadRequest(_)
            | ApiError::TooLarge(_)
            | ApiError::SessionNotFound(_)
            | ApiError::TooManySessions(_)
            | ApiError::NotFound(_)
            | ApiError::ShuttingDown
            | ApiError::Unauthenticated(_)
            | ApiError::Forbidden(_)
            | ApiError::OutOfScope(_)
            | ApiError::StoreUnavailable(_)
            | ApiError::InvalidPlugin(_)
            | ApiError::PluginNotFound(_)
            | ApiError::Internal(_) => {}
        };
        for error in [
            ApiError::BadRequest(text()),
            ApiError::TooLarge(text()),
            ApiError::SessionNotFound(text()),
            ApiError::TooManySessions(1),
            ApiError::NotFound(text()),
            ApiError::ShuttingDown,
            ApiError::Unauthenticated(text()),
            ApiError::Forbidden(text()),
            ApiError::OutOfScope(text()),
            ApiError::StoreUnavailable(text()),
            ApiError::InvalidPlugin(text()),
            ApiError::PluginNotFound(text()),
            ApiError::Internal(text()),
        ] {
            let code = error.detail().code;
            let listed = documented
                .as_array()
                .is_some_and(|codes| codes.iter().any(|c| *c == *code));
            assert!(listed, "{code} is not in ErrorDetail.code's enum");
        }
    }
}
