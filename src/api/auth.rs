//! Authentication and scopes: `Authorization: Bearer <key>` on every route but the OpenAPI
//! document. A handler states the scope it needs in its signature (`Authorized<RecordsWrite>`),
//! so no route can forget its check. Order: an address that failed authentication too often →
//! 429 (before its key is looked up); no or unknown key → 401 (429 once the address has no
//! failures left); over the key's rate → 429; key without the scope → 403.

use std::marker::PhantomData;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::apikeys::{self, ApiKey, Scope};
use crate::records::{Actor, RecordService};

/// A scope a route requires, as a type.
pub trait RequiredScope: Send + Sync {
    const SCOPE: Scope;
}

macro_rules! scopes {
    ($($name:ident => $scope:ident),* $(,)?) => {
        $(
            #[doc = concat!("The `", stringify!($scope), "` scope.")]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$scope;
            }
        )*
    };
}

scopes! {
    RecordsRead => RecordsRead,
    RecordsWrite => RecordsWrite,
    ImportsRead => ImportsRead,
    ImportsWrite => ImportsWrite,
    ExportsRead => ExportsRead,
    ExportsWrite => ExportsWrite,
    WebhooksRead => WebhooksRead,
    WebhooksWrite => WebhooksWrite,
}

/// The caller's key, checked for the scope `S`, and the records service acting for it.
pub struct Authorized<S> {
    pub key: ApiKey,
    /// The records service acting for the key's member: every read and change is limited to
    /// what their privacy levels allow.
    pub records: RecordService,
    scope: PhantomData<S>,
}

impl<S> Authorized<S> {
    /// Changes are recorded as made by the key: its id and name.
    pub fn actor(&self) -> Actor {
        Actor::new(self.key.id.clone(), self.key.name.clone())
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Without connect info (a router served another way) all callers share one budget.
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip());
        state.failed_auth.check(address)?;
        match authenticate(parts, state).await {
            Ok(key) => {
                state.rate_limits.check(&key.id)?;
                if !key.allows(S::SCOPE) {
                    return Err(ApiError::Forbidden { required: S::SCOPE });
                }
                Ok(Authorized {
                    records: state.service.acting_for(key.access()),
                    key,
                    scope: PhantomData,
                })
            }
            Err(rejection @ ApiError::Unauthorized(_)) => {
                Err(state.failed_auth.failed(address, rejection))
            }
            Err(other) => Err(other),
        }
    }
}

/// The key the request's `Authorization` header names; a 401 when there is none or it is
/// unknown.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<ApiKey, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>'".to_string(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".to_string()))?;
    let secret = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be 'Bearer <key>'".to_string())
        })?;
    apikeys::authenticate(state.service.store(), secret)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".to_string()))
}
