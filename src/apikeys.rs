//! API keys of the HTTP API: created with scopes, shown once, stored as a SHA-256 digest, listed
//! and revoked.
//!
//! In: a name and scopes ([`create`]), a presented key ([`authenticate`]). Out: [`ApiKey`]s (never
//! with the secret, except the one [`CreatedKey`] that [`create`] returns). Guarantees: the
//! store holds only digests, so a leaked database does not leak usable keys; a revoked key
//! never authenticates again.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::records::Access;
use crate::store::{Row, Sql, Store, format_micros, new_id, now_micros};

/// Every key starts with this, so a leaked key is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "rpk_";
/// Characters of a key kept in clear, to tell listed keys apart.
const SHOWN_PREFIX_CHARS: usize = 12;

/// What a key may do. Each HTTP route requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    RecordsRead,
    RecordsWrite,
    ImportsRead,
    ImportsWrite,
    ExportsRead,
    ExportsWrite,
    WebhooksRead,
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::RecordsRead,
        Scope::RecordsWrite,
        Scope::ImportsRead,
        Scope::ImportsWrite,
        Scope::ExportsRead,
        Scope::ExportsWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecordsRead => "records:read",
            Scope::RecordsWrite => "records:write",
            Scope::ImportsRead => "imports:read",
            Scope::ImportsWrite => "imports:write",
            Scope::ExportsRead => "exports:read",
            Scope::ExportsWrite => "exports:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(text: &str) -> Result<Scope> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                Error::invalid_field(
                    "scopes",
                    format!(
                        "unknown scope '{}': expected one of {}",
                        text.trim(),
                        Scope::ALL.map(Scope::as_str).join(", ")
                    ),
                    None,
                )
            })
    }

    /// Parses `records:read,imports:write`; at least one scope, each once.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>> {
        let mut scopes = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Scope::parse)
            .collect::<Result<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(Error::invalid_field(
                "scopes",
                "a key needs at least one scope",
                None,
            ));
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, e.g. `rpk_3f9a1c0b`.
    pub key_prefix: String,
    pub scopes: Vec<Scope>,
    /// The member the key acts for: it sees and changes what their privacy levels allow. None:
    /// an administrator's key, which sees every record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    pub created_date_time: String,
    pub last_used_date_time: Option<String>,
    pub revoked_date_time: Option<String>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whose reads and changes the key's requests are.
    pub fn access(&self) -> Access {
        match &self.member_id {
            Some(member) => Access::Member(member.clone()),
            None => Access::Everything,
        }
    }
}

/// A key just created: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

/// The stored digest of a key: lower-case hex SHA-256.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a key with these scopes; the returned secret is not stored anywhere.
pub async fn create(store: &Store, name: &str, scopes: &[Scope]) -> Result<CreatedKey> {
    create_for(store, name, scopes, None).await
}

/// Creates a key that acts for `member` (see [`ApiKey::member_id`]); `None` makes an
/// administrator's key.
pub async fn create_for(
    store: &Store,
    name: &str,
    scopes: &[Scope],
    member: Option<&str>,
) -> Result<CreatedKey> {
    let member = member.map(str::trim);
    if member.is_some_and(str::is_empty) {
        return Err(Error::invalid_field("member", "must not be empty", None));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_field("name", "must not be empty", None));
    }
    if scopes.is_empty() {
        return Err(Error::invalid_field(
            "scopes",
            "a key needs at least one scope",
            None,
        ));
    }
    // 256 bits from the operating system's generator (via rand's thread RNG, reseeded from it).
    let random: [u8; 32] = rand::random();
    let secret = format!(
        "{KEY_PREFIX}{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let id = new_id("key");
    let mut sql = Sql::new(
        "INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes, member_id, created_at) \
         VALUES (",
    );
    sql.bind_list([
        id.clone(),
        name.to_string(),
        digest(&secret),
        secret[..SHOWN_PREFIX_CHARS].to_string(),
        scopes_text(scopes),
    ])
    .push(", ")
    .bind(member.map(str::to_string))
    .push(", ")
    .bind(now_micros())
    .push(")");
    store.execute(sql).await?;
    Ok(CreatedKey {
        key: get(store, &id).await?,
        secret,
    })
}

/// Scopes as the comma-separated list that [`Scope::parse_list`] reads back (how they are stored
/// and shown).
pub fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

const COLUMNS: &str =
    "id, name, key_prefix, scopes, member_id, created_at, last_used_at, revoked_at FROM api_keys";

fn key_from_row(row: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.text("id")?,
        name: row.text("name")?,
        key_prefix: row.text("key_prefix")?,
        scopes: Scope::parse_list(&row.text("scopes")?)?,
        member_id: row.opt_text("member_id")?,
        created_date_time: format_micros(row.int("created_at")?),
        last_used_date_time: row.opt_int("last_used_at")?.map(format_micros),
        revoked_date_time: row.opt_int("revoked_at")?.map(format_micros),
    })
}

pub async fn get(store: &Store, id: &str) -> Result<ApiKey> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} WHERE id = "));
    sql.bind(id);
    match store.fetch_optional(sql).await? {
        Some(row) => key_from_row(&row),
        None => Err(Error::not_found("API key", id)),
    }
}

/// Every key, revoked ones too, oldest first.
pub async fn list(store: &Store) -> Result<Vec<ApiKey>> {
    let sql = Sql::new(format!("SELECT {COLUMNS} ORDER BY created_at, id"));
    store.fetch_mapped(sql, key_from_row).await
}

/// Revokes a key for good; revoking it again changes nothing.
pub async fn revoke(store: &Store, id: &str) -> Result<ApiKey> {
    let mut sql = Sql::new("UPDATE api_keys SET revoked_at = ");
    sql.bind(now_micros())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND revoked_at IS NULL");
    store.execute(sql).await?;
    get(store, id).await
}

/// `last_used_at` is written at most this often per key: a write on every request would queue
/// API reads behind an import's write transactions on SQLite.
const LAST_USED_RESOLUTION_MICROS: i64 = 60 * 1_000_000;

/// The live key a request presents, or `None` when it is unknown or revoked. Notes the time of
/// use (to the minute).
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<ApiKey>> {
    if !secret.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    let mut sql = Sql::new(format!("SELECT {COLUMNS} WHERE key_hash = "));
    sql.bind(digest(secret)).push(" AND revoked_at IS NULL");
    let Some(row) = store.fetch_optional(sql).await? else {
        return Ok(None);
    };
    let key = key_from_row(&row)?;
    let now = now_micros();
    if row
        .opt_int("last_used_at")?
        .is_none_or(|last| now - last >= LAST_USED_RESOLUTION_MICROS)
    {
        let mut touch = Sql::new("UPDATE api_keys SET last_used_at = ");
        touch.bind(now).push(" WHERE id = ").bind(key.id.clone());
        store.execute(touch).await?;
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_sorted_and_unique() {
        let scopes = Scope::parse_list("imports:write, records:read,records:read").unwrap();
        assert_eq!(scopes, vec![Scope::RecordsRead, Scope::ImportsWrite]);
        assert!(Scope::parse_list("records:read,records:admin").is_err());
        assert!(Scope::parse_list(" , ").is_err());
    }

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn keys_authenticate_until_revoked_and_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .unwrap();
        let created = create(&store, "ci", &[Scope::RecordsRead]).await.unwrap();
        assert!(created.secret.starts_with(KEY_PREFIX));
        assert_eq!(created.secret.len(), KEY_PREFIX.len() + 64);
        assert!(created.secret.starts_with(&created.key.key_prefix));

        let stored = store
            .fetch_all(Sql::new("SELECT key_hash FROM api_keys"))
            .await
            .unwrap();
        assert_eq!(stored[0].text("key_hash").unwrap(), digest(&created.secret));

        let found = authenticate(&store, &created.secret)
            .await
            .unwrap()
            .unwrap();
        assert!(found.allows(Scope::RecordsRead) && !found.allows(Scope::RecordsWrite));
        assert!(
            authenticate(&store, "rpk_not-a-key")
                .await
                .unwrap()
                .is_none()
        );

        let revoked = revoke(&store, &created.key.id).await.unwrap();
        assert!(revoked.revoked_date_time.is_some());
        assert!(
            authenticate(&store, &created.secret)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(list(&store).await.unwrap().len(), 1);
        assert!(matches!(
            revoke(&store, "key_missing").await,
            Err(Error::NotFound { .. })
        ));
    }
}
