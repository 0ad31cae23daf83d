//! Request limits: a request rate per API key (GCRA via `governor`: a burst of the per-minute
//! quota, then one request every `60 s / quota`) and the largest body the server reads.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::{ApiError, ApiResult};

/// Spec 002: "Maximum file size: 100 MB".
pub const DEFAULT_MAX_UPLOAD_MB: u64 = 100;
/// Requests per minute and key unless `--rate-limit-per-minute` says otherwise.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;

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
