//! Request limits: a request rate per API key (GCRA via `governor`: a burst of the per-minute
//! quota, then one request every `60 s / quota`), failed authentications per client address
//! (the same kind of budget; an address over it is refused before its key is even looked up,
//! until the budget refills), and the largest body the server reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::{ApiError, ApiResult};

/// Spec 002: "Maximum file size: 100 MB".
pub const DEFAULT_MAX_UPLOAD_MB: u64 = 100;
/// Requests per minute and key unless `--rate-limit-per-minute` says otherwise.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;
/// Failed authentications per minute and client address unless `--failed-auth-per-minute`
/// says otherwise: plenty for a mistyped key, far too few to guess one.
pub const DEFAULT_FAILED_AUTH_PER_MINUTE: u32 = 20;
/// Addresses tracked at most before expired entries are dropped (many addresses must not grow
/// the tables without bound).
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Requests per minute per API key; `None` turns limiting off.
pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn per_minute(requests: u32) -> RateLimits {
        RateLimits {
            limiter: NonZeroU32::new(requests).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key_id`; a 429 with the wait in whole seconds (at least 1) when
    /// the key is over its rate.
    pub fn check(&self, key_id: &str) -> ApiResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        match limiter.check_key(&key_id.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(ApiError::RateLimited {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                })
            }
        }
    }
}

/// Failed authentications per client address (see the module note).
pub struct FailedAuthLimits {
    limits: RateLimits,
    /// Addresses over their budget, and when they may try again.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl FailedAuthLimits {
    pub fn per_minute(failures: u32) -> FailedAuthLimits {
        FailedAuthLimits {
            limits: RateLimits::per_minute(failures),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// A 429 when `address` used up its failures and must wait.
    pub fn check(&self, address: IpAddr) -> ApiResult<()> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&address) {
            Some(until) if *until > Instant::now() => Err(ApiError::RateLimited {
                retry_after_secs: until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64,
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `address`: `rejection` (the 401) while it has
    /// failures left, a 429 once it has none (and it is blocked until one is back).
    pub fn failed(&self, address: IpAddr, rejection: ApiError) -> ApiError {
        let Some(limiter) = &self.limits.limiter else {
            return rejection;
        };
        if limiter.len() > MAX_TRACKED_ADDRESSES {
            limiter.retain_recent();
        }
        match self.limits.check(&address.to_string()) {
            Ok(()) => rejection,
            Err(error) => {
                if let ApiError::RateLimited { retry_after_secs } = &error {
                    let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
                    if blocked.len() > MAX_TRACKED_ADDRESSES {
                        let now = Instant::now();
                        blocked.retain(|_, until| *until > now);
                    }
                    blocked.insert(
                        address,
                        Instant::now() + Duration::from_secs(*retry_after_secs),
                    );
                }
                error
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = RateLimits::per_minute(2);
        assert!(limits.check("a").is_ok());
        assert!(limits.check("a").is_ok());
        match limits.check("a") {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs))
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(limits.check("b").is_ok());
        let off = RateLimits::per_minute(0);
        assert!((0..100).all(|_| off.check("a").is_ok()));
    }
}
