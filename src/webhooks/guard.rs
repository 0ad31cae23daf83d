//! The SSRF guard: webhook URLs must not reach this machine or its private networks.
//!
//! In: a URL (at creation, [`check_url`]) or a host name being resolved for a delivery
//! ([`GuardedResolver`]). Out: the URL accepted, or a validation error saying which address was
//! refused and why. Guarantees: unless private addresses are allowed, a delivery connects only to
//! addresses this guard checked after DNS resolution (the resolver is the HTTP client's own, so
//! a name that resolves differently between the check and the connection cannot slip through),
//! and IP-literal URLs are checked before any connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use crate::error::{Error, Result};

/// Why `ip` may not be the target of a webhook, if it may not.
pub fn refused_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("a broadcast or multicast address")
    } else {
        None
    }
}

fn refusal(url: &str, host: &str, ip: IpAddr, why: &str) -> Error {
    let target = if host.trim_start_matches('[').trim_end_matches(']') == ip.to_string() {
        format!("{ip} is {why}")
    } else {
        format!("{host} resolves to {ip}, {why}")
    };
    Error::invalid_field(
        "url",
        format!(
            "{target}: webhooks may not reach this machine or its private \
             networks (a server run with --allow-private-webhooks allows them)"
        ),
        Some(serde_json::Value::String(url.to_string())),
    )
}

/// Parses a webhook URL: absolute, `http` or `https`, with a host.
pub fn parse_url(text: &str) -> Result<Url> {
    let bad = |why: &str| {
        Error::invalid_field(
            "url",
            why.to_string(),
            Some(serde_json::Value::String(text.to_string())),
        )
    };
    let url = Url::parse(text.trim()).map_err(|e| bad(&format!("not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    Ok(url)
}

/// Checks that `url` may receive webhooks: parses it and, unless `allow_private`, resolves its
/// host and refuses it when any address it resolves to is loopback, private, link-local or
/// unspecified.
pub async fn check_url(text: &str, allow_private: bool) -> Result<Url> {
    let url = parse_url(text)?;
    if allow_private {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| {
                Error::invalid_field(
                    "url",
                    format!("the host {host} does not resolve: {e}"),
                    Some(serde_json::Value::String(text.to_string())),
                )
            })?
            .collect(),
    };
    for address in &addresses {
        if let Some(why) = refused_reason(address.ip()) {
            return Err(refusal(text, &host, address.ip(), why));
        }
    }
    Ok(url)
}

/// The HTTP client's resolver when private addresses are not allowed: resolves with the system
/// resolver and fails the connection when any address is refused.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(address) = addresses.iter().find(|a| refused_reason(a.ip()).is_some()) {
                let why = refused_reason(address.ip()).unwrap_or_default();
                return Err(format!(
                    "refused: {host} resolves to {}, {why} (private webhooks are not allowed)",
                    address.ip()
                )
                .into());
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Checks a delivery's URL before it is sent: an IP literal is never resolved, so the resolver
/// alone would not see it.
pub fn check_literal(url: &Url) -> std::result::Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match refused_reason(ip) {
        Some(why) => Err(format!(
            "refused: {ip} is {why} (private webhooks are not allowed)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_addresses_are_refused_public_ones_pass() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(refused_reason(ip).is_some(), "{refused} should be refused");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert_eq!(refused_reason(ip), None, "{allowed} should pass");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_and_address() {
        assert!(check_url("ftp://example.com/x", true).await.is_err());
        assert!(check_url("not a url", true).await.is_err());
        let error = check_url("http://127.0.0.1:9/hook", false)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("loopback"), "{error}");
        let error = check_url("http://localhost:9/hook", false)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("loopback"), "{error}");
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
        let literal = Url::parse("http://[::1]:9/").unwrap();
        assert!(check_literal(&literal).is_err());
    }
}
