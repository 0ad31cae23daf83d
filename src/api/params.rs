//! The parameters of the routes: in, a request's path and query string; out, typed values or
//! a `validation_error` naming the parameter.
//!
//! Path parameters: each set is declared once, as a type that a handler extracts
//! (`Path(RecordPath { module, id }): Path<RecordPath>`) and its `#[utoipa::path]` documents
//! (`params(RecordPath)`), so a parameter's name, place and description cannot drift between
//! routes, and handlers take them by name, not by position. The names are the route's
//! placeholders (`{jobId}` is `job_id` renamed); the doc comments are the OpenAPI descriptions.
//!
//! Query parameters: [`QueryParams`], the decoded pairs in order, read by name; a name given
//! twice counts with its last value. Handlers document their query parameters one by one (they
//! differ per route).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::ApiError;
use crate::error::Error;

/// The absolute URL this server is reached at, for links in answers (an export job's
/// `fileUrl`): `--public-url` when the server was given one (behind a proxy or TLS), else
/// `http://` and the request's `Host`.
pub(crate) struct PublicBase(pub String);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(base) = &state.settings.public_url {
            return Ok(PublicBase(base.clone()));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        // A Host that is not a plain `name[:port]` (user info, a path, spaces) would make a
        // link to somewhere else.
        let plain =
            |h: &&str| !h.contains('@') && h.parse::<Authority>().is_ok_and(|a| a.as_str() == *h);
        match host.filter(plain) {
            Some(host) => Ok(PublicBase(format!("http://{host}"))),
            None => Err(Error::validation(
                "the request has no valid Host header to build links with: send one, or run \
                 the server with --public-url",
            )
            .into()),
        }
    }
}

impl PublicBase {
    /// `path` (starting with `/`) under this base.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// The query string as decoded pairs, in order (`filter[status]` keeps its brackets).
/// Extracting it never fails: a parameter is checked when it is read.
pub(crate) struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(QueryParams::parse(parts.uri.query()))
    }
}

impl QueryParams {
    fn parse(raw: Option<&str>) -> QueryParams {
        QueryParams(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// Every pair, in the order of the query string.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value given for `name`.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A whole-number parameter in `min..=max` (a count, a page): out of range is refused with
    /// the range, never taken as some other number.
    pub(crate) fn count(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, Error> {
        self.text(name)
            .map(|value| crate::records::query::whole_number(name, value, min, max))
            .transpose()
    }
}

/// `/v1/modules/{module}/…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ModulePath {
    /// Module slug
    pub module: String,
}

/// `/v1/modules/{module}/records/{id}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RecordPath {
    /// Module slug
    pub module: String,
    /// Record id
    pub id: String,
}

/// `/v1/modules/{module}/references/{referenceSlug}/…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReferencePath {
    /// Module slug
    pub module: String,
    /// Reference field slug
    pub reference_slug: String,
}

/// `/v1/modules/{module}/references/{referenceSlug}/records/{recordId}`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinkedRecordsPath {
    /// Module slug
    pub module: String,
    /// Reference field slug
    pub reference_slug: String,
    /// Record id
    pub record_id: String,
}

/// `/v1/modules/{module}/import/jobs/{jobId}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImportJobPath {
    /// Module slug
    pub module: String,
    /// Import job id
    pub job_id: String,
}

/// `/v1/export-jobs/{exportJobId}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportJobPath {
    /// Export job id
    pub export_job_id: String,
}

/// `/v1/reports/{reportId}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportPath {
    /// Report id
    pub report_id: String,
}

/// `/v1/modules/{module}/upsert/{externalId}`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalIdPath {
    /// Module slug
    pub module: String,
    /// The record's id in the caller's system
    pub external_id: String,
}

/// `/v1/webhooks/{webhookId}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookPath {
    /// Webhook id
    pub webhook_id: String,
}

/// `/v1/webhooks/{webhookId}/deliveries/{deliveryId}…`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryPath {
    /// Webhook id
    pub webhook_id: String,
    /// Delivery id
    pub delivery_id: String,
}
