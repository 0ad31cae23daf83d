//! Authentication and scopes: `Authorization: Bearer <key>` on every route but the OpenAPI
//! document. A handler states the scope it needs in its signature (`Authorized<RecordsWrite>`),
//! so no route can forget its check. Order: no or unknown key → 401; over the key's rate →
//! 429; key without the scope → 403.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::apikeys::{self, ApiKey, Scope};
use crate::records::Actor;

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

/// The caller's key, checked for the scope `S`.
pub struct Authorized<S> {
    pub key: ApiKey,
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
                ApiError::Unauthorized(
                    "the Authorization header must be 'Bearer <key>'".to_string(),
                )
            })?;
        let key = apikeys::authenticate(state.service.store(), secret)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".to_string()))?;
        state.rate_limits.check(&key.id)?;
        if !key.allows(S::SCOPE) {
            return Err(ApiError::Forbidden { required: S::SCOPE });
        }
        Ok(Authorized {
            key,
            scope: PhantomData,
        })
    }
}
