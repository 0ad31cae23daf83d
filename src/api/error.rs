//! The API's error response: every failure, the library's and the HTTP layer's own, becomes
//! spec 000's `{"error":{"code","message","details"}}` with the spec's status.

use axum::Json;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::apikeys::Scope;
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A library error: its code and status come from [`Error::code`] and [`Error::http_status`].
    #[error(transparent)]
    Library(#[from] Error),
    /// No key, or a key that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(String),
    #[error("this API key lacks the '{required}' scope")]
    Forbidden { required: Scope },
    #[error("too many requests for this API key: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Library(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// Spec 000's body for this error.
    pub fn to_json(&self) -> serde_json::Value {
        let (code, details) = match self {
            ApiError::Library(e) => return e.to_json(),
            ApiError::Unauthorized(_) => ("unauthorized", json!({})),
            ApiError::Forbidden { required } => {
                ("forbidden", json!({ "requiredScope": required.as_str() }))
            }
            ApiError::RateLimited { retry_after_secs } => (
                "rate_limited",
                json!({ "retryAfterSeconds": retry_after_secs }),
            ),
            ApiError::RouteNotFound { method, path } => {
                ("not_found", json!({ "method": method, "path": path }))
            }
            ApiError::MethodNotAllowed { method, path } => (
                "method_not_allowed",
                json!({ "method": method, "path": path }),
            ),
        };
        json!({ "error": { "code": code, "message": self.to_string(), "details": details } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The client sees the code; the operator needs the cause.
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(self.to_json())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// The body was larger than the server takes.
pub fn too_large(what: &str, limit_bytes: u64) -> ApiError {
    ApiError::Library(Error::TooLarge {
        file: what.to_string(),
        message: format!(
            "larger than the {} MB this server accepts (--max-upload-mb); split it into smaller files",
            limit_bytes.div_ceil(1024 * 1024)
        ),
    })
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::Library(Error::TooLarge {
                file: "request body".into(),
                message: "larger than this server accepts (--max-upload-mb)".into(),
            });
        }
        ApiError::Library(Error::validation(format!(
            "invalid request body: {}",
            rejection.body_text()
        )))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Library(Error::validation(rejection.body_text()))
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        ApiError::Library(Error::validation(format!(
            "expected a multipart/form-data upload with a 'file' field: {}",
            rejection.body_text()
        )))
    }
}

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> Self {
        ApiError::Library(Error::validation(format!(
            "cannot read the upload: {}",
            error.body_text()
        )))
    }
}

/// `axum::Json` whose rejections (malformed JSON, body too large) answer in the spec's error
/// shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
