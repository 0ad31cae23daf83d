//! Dispatch: workers claim due deliveries under a lease, sign and POST them, log each attempt,
//! and schedule retries with exponential backoff.
//!
//! In: pending `webhook_deliveries` rows whose time has come. Out: HTTP POSTs and, per try, a
//! `webhook_attempts` row and the delivery's new state: `delivered` (a 2xx answer), `pending`
//! again at `now + retry_base × 2^(attempt-1)`, or `failed` after `max_attempts` tries (8 tries
//! with the 30 s default span about an hour). Guarantees: a delivery is held by one worker at a
//! time: the claim is one `UPDATE` (PostgreSQL picks the rows with `FOR UPDATE SKIP LOCKED`, so
//! workers never wait on each other; SQLite has one writer), and the result is written only by
//! the lease holder; a worker that dies mid-delivery leaves a lease that runs out, and another
//! worker sends the delivery again (at least once). Redirects are not followed, and unless
//! private webhooks are allowed every connection goes through [`super::guard`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};

use super::guard::{self, GuardedResolver};
use super::signing::{self, SIGNATURE_HEADER};
use crate::error::{Error, Result};
use crate::store::{Dialect, Sql, Store, now_micros};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Names this dispatcher in the lease column.
    pub worker_id: String,
    /// Deliver to loopback and private addresses too (tests, closed networks).
    pub allow_private: bool,
    /// The wait after the first failed try; each further failure doubles it.
    pub retry_base: Duration,
    /// Tries before a delivery is `failed`.
    pub max_attempts: i64,
    /// How long one POST may take.
    pub timeout: Duration,
    /// Deliveries claimed (and sent concurrently) at once.
    pub batch: usize,
}

impl DispatchOptions {
    pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(worker_id: impl Into<String>) -> DispatchOptions {
        DispatchOptions {
            worker_id: worker_id.into(),
            allow_private: false,
            retry_base: Self::DEFAULT_RETRY_BASE,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            timeout: Self::DEFAULT_TIMEOUT,
            batch: 16,
        }
    }

    /// The wait before try `attempt + 1` after try `attempt` failed.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.retry_base.saturating_mul(1 << doublings)
    }

    /// A lease outlives the POST it covers, so it only runs out when its worker died.
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(3) + Duration::from_secs(5)
    }
}

/// Installs ring as the process's TLS crypto provider (reqwest is built without a default one);
/// idempotent. Any HTTP client of this process (the tests' too) needs it before it is built.
pub fn install_tls_provider() {
    // An error means a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What one dispatch round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchRound {
    pub delivered: usize,
    /// Failed tries that will be tried again.
    pub retrying: usize,
    /// Deliveries that used their last try.
    pub failed: usize,
}

impl DispatchRound {
    pub fn claimed(&self) -> usize {
        self.delivered + self.retrying + self.failed
    }
}

pub struct Dispatcher {
    store: Store,
    options: DispatchOptions,
    client: reqwest::Client,
}

/// A delivery this dispatcher holds, with what sending it needs.
struct Claimed {
    id: String,
    event: String,
    attempts: i64,
    url: String,
    secret: String,
    payload: String,
}

impl Dispatcher {
    pub fn new(store: Store, options: DispatchOptions) -> Result<Dispatcher> {
        install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the guard.
            .no_proxy();
        if !options.allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let client = builder
            .build()
            .map_err(|e| Error::internal(format!("the webhook HTTP client: {e}")))?;
        Ok(Dispatcher {
            store,
            options,
            client,
        })
    }

    pub fn options(&self) -> &DispatchOptions {
        &self.options
    }

    /// Claims up to a batch of due deliveries and makes them, concurrently.
    pub async fn dispatch_due(&self) -> Result<DispatchRound> {
        let claimed = self.claim().await?;
        let outcomes =
            futures_util::future::join_all(claimed.iter().map(|d| self.deliver(d))).await;
        let mut round = DispatchRound::default();
        for outcome in outcomes {
            match outcome? {
                Outcome::Delivered => round.delivered += 1,
                Outcome::Retrying => round.retrying += 1,
                Outcome::Failed => round.failed += 1,
                Outcome::LeaseLost => {}
            }
        }
        Ok(round)
    }

    async fn claim(&self) -> Result<Vec<Claimed>> {
        let now = now_micros();
        let lease_until = now.saturating_add(
            i64::try_from(self.options.lease().as_micros()).unwrap_or(i64::MAX / 2),
        );
        let skip_locked = match self.store.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let mut sql = Sql::new("UPDATE webhook_deliveries SET lease_owner = ");
        sql.bind(self.options.worker_id.as_str())
            .push(", lease_expires_at = ")
            .bind(lease_until)
            .push(
                " WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND \
                 next_attempt_at <= ",
            )
            .bind(now)
            .push(" AND (lease_expires_at IS NULL OR lease_expires_at < ")
            .bind(now)
            .push(") ORDER BY next_attempt_at, id LIMIT ")
            .bind(self.options.batch.max(1) as i64)
            .push(&format!("{skip_locked}) RETURNING id"));
        let ids = self.store.write_returning(sql).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids
            .iter()
            .map(|row| row.text("id"))
            .collect::<Result<_>>()?;
        let mut sql = Sql::new(
            "SELECT d.id, d.event, d.attempts, w.url, w.secret, e.payload FROM webhook_deliveries \
             d JOIN webhooks w ON w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.lease_owner = ",
        );
        sql.bind(self.options.worker_id.as_str())
            .push(" AND d.id IN (")
            .bind_list(ids.iter().map(String::as_str))
            .push(") ORDER BY d.next_attempt_at, d.id");
        self.store
            .fetch_mapped(sql, |row| {
                Ok(Claimed {
                    id: row.text("id")?,
                    event: row.text("event")?,
                    attempts: row.int("attempts")?,
                    url: row.text("url")?,
                    secret: row.text("secret")?,
                    payload: row.text("payload")?,
                })
            })
            .await
    }

    /// Makes one try of a claimed delivery and writes its outcome.
    async fn deliver(&self, delivery: &Claimed) -> Result<Outcome> {
        let started = Instant::now();
        let answer = self.post(delivery).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempt = delivery.attempts + 1;
        let (status_code, error) = match answer {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (
                Some(status),
                Some(format!("the receiver answered HTTP {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let now = now_micros();
        let outcome = if error.is_none() {
            Outcome::Delivered
        } else if attempt >= self.options.max_attempts {
            Outcome::Failed
        } else {
            Outcome::Retrying
        };
        match (&outcome, &error) {
            (Outcome::Delivered, _) => {
                tracing::info!(delivery = %delivery.id, event = %delivery.event, attempt, "webhook delivered")
            }
            (_, Some(error)) => {
                tracing::warn!(delivery = %delivery.id, event = %delivery.event, attempt, "webhook delivery failed: {error}")
            }
            _ => {}
        }
        let next_attempt_at = match outcome {
            Outcome::Retrying => now.saturating_add(
                i64::try_from(self.options.backoff(attempt).as_micros()).unwrap_or(i64::MAX / 2),
            ),
            _ => now,
        };
        let status = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            _ => "pending",
        };
        let mut tx = self.store.begin().await?;
        let mut sql = Sql::new("UPDATE webhook_deliveries SET status = ");
        sql.bind(status)
            .push(", attempts = ")
            .bind(attempt)
            .push(", next_attempt_at = ")
            .bind(next_attempt_at)
            .push(", last_status_code = ")
            .bind(status_code)
            .push(", last_error = ")
            .bind(error.clone())
            .push(", completed_at = ")
            .bind((status != "pending").then_some(now))
            .push(", lease_owner = NULL, lease_expires_at = NULL WHERE id = ")
            .bind(delivery.id.as_str())
            .push(" AND lease_owner = ")
            .bind(self.options.worker_id.as_str());
        if tx.execute(sql).await? == 0 {
            // The webhook was deleted meanwhile, or the lease ran out and another worker holds
            // the delivery now: its outcome is that worker's to write.
            return Ok(Outcome::LeaseLost);
        }
        let mut sql = Sql::new(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, \
             duration_ms) VALUES (",
        );
        sql.bind(delivery.id.as_str())
            .push(", ")
            .bind(attempt)
            .push(", ")
            .bind(now)
            .push(", ")
            .bind(status_code)
            .push(", ")
            .bind(error)
            .push(", ")
            .bind(duration_ms)
            .push(")");
        tx.execute(sql).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// POSTs the delivery; the HTTP status, or why there was none.
    async fn post(&self, delivery: &Claimed) -> std::result::Result<i64, String> {
        let url = guard::parse_url(&delivery.url).map_err(|e| e.to_string())?;
        if !self.options.allow_private {
            guard::check_literal(&url)?;
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::sign(&delivery.secret, timestamp, delivery.payload.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("recordport/", env!("CARGO_PKG_VERSION"))),
        );
        let text_header = |value: &str| HeaderValue::from_str(value).map_err(|e| e.to_string());
        headers.insert(SIGNATURE_HEADER, text_header(&signature)?);
        headers.insert("X-Recordport-Event", text_header(&delivery.event)?);
        headers.insert("X-Recordport-Delivery", text_header(&delivery.id)?);
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(i64::from(response.status().as_u16()))
    }
}

/// A transport error with its causes (the guard's refusal sits a few sources down).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

enum Outcome {
    Delivered,
    Retrying,
    Failed,
    LeaseLost,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_eight_tries_span_about_an_hour() {
        let options = DispatchOptions::new("w");
        assert_eq!(options.backoff(1), Duration::from_secs(30));
        assert_eq!(options.backoff(2), Duration::from_secs(60));
        let total: Duration = (1..options.max_attempts).map(|a| options.backoff(a)).sum();
        assert!(
            total >= Duration::from_secs(3000) && total <= Duration::from_secs(4500),
            "{total:?}"
        );
    }
}
