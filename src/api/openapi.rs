//! The OpenAPI document (`GET /v1/openapi.json`), generated from the route handlers'
//! `#[utoipa::path]` attributes as they are registered (`utoipa_axum::routes!`), so a route
//! cannot exist without being documented.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "recordport",
        description = "Records API (spec 000) and Import & Export API (spec 002). Every route but \
            this document needs `Authorization: Bearer <key>` with the scope it names. Errors are \
            `{\"error\":{\"code\",\"message\",\"details\"}}`.",
    ),
    modifiers(&BearerKeys),
    tags(
        (name = "records", description = "Spec 000: records"),
        (name = "trash", description = "Spec 000: trash and recovery"),
        (name = "references", description = "Spec 000: reference fields"),
        (name = "imports", description = "Spec 002: the four import steps and import jobs"),
        (name = "exports", description = "Spec 002: exports and export jobs"),
        (name = "reports", description = "Saved reports and their exports"),
        (name = "webhooks", description = "Spec 004: webhooks, their deliveries and redelivery"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer API keys that every operation's `security` names.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `recordport apikey create`; scopes: records:read, \
                         records:write, imports:read, imports:write, exports:read, exports:write, \
                         webhooks:read, webhooks:write",
                    ))
                    .build(),
            ),
        );
    }
}
