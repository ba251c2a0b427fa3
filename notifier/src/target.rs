//! Which URLs a webhook may target: absolute `https://` (or `http://` when the
//! administrator marks the webhook insecure), no credentials in the URL, and, unless
//! the service allows private targets, a host that resolves only to public addresses
//! (never loopback, private, link-local or otherwise internal), so a webhook cannot
//! be aimed at the network the notifier runs in.
//!
//! The addresses are checked again at every delivery ([`PublicResolver`]): a name that
//! resolved to a public address at registration and later to an internal one (DNS
//! rebinding) gets no notification.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// Why a URL is refused; the message names the rule, never the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute http(s) URL.
    #[error("url must be an absolute https:// url")]
    NotAbsolute,
    /// `http://` without `insecure`.
    #[error("url must be https:// unless insecure is true")]
    NotHttps,
    /// User name or password in the URL.
    #[error("url must not carry credentials")]
    Credentials,
    /// The host does not resolve.
    #[error("url host does not resolve")]
    Unresolved,
    /// The host resolves to an internal address.
    #[error("url host resolves to a loopback, private or link-local address")]
    Private,
}

/// Whether the rules on addresses apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Only public addresses (production).
    PublicOnly,
    /// Any address (the local stack and tests).
    AllowPrivate,
}

/// Checks the form of `url`: scheme, absoluteness, no credentials.
pub fn check_form(url: &str, insecure: bool) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|_| TargetError::NotAbsolute)?;
    match parsed.scheme() {
        "https" => {}
        "http" if insecure => {}
        "http" => return Err(TargetError::NotHttps),
        _ => return Err(TargetError::NotAbsolute),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::NotAbsolute);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Credentials);
    }
    Ok(parsed)
}

/// Checks `url`'s form and, under [`Targets::PublicOnly`], every address its host
/// resolves to.
pub async fn check(url: &str, insecure: bool, targets: Targets) -> Result<Url, TargetError> {
    let parsed = check_form(url, insecure)?;
    if targets == Targets::AllowPrivate {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| TargetError::Unresolved)?
            .map(|socket| socket.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(TargetError::Unresolved);
    }
    if addresses.iter().any(|address| !is_public(*address)) {
        return Err(TargetError::Private);
    }
    Ok(parsed)
}

/// The name resolver of deliveries under [`Targets::PublicOnly`]: the system's
/// resolver, keeping only public addresses, failing with [`PrivateTarget`] when none is
/// left. (An address literal in a URL needs no resolving; it was checked when the
/// webhook was registered or changed.)
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver;

/// A target's name resolved only to internal addresses at delivery time.
#[derive(Debug, thiserror::Error)]
#[error("target resolves to a loopback, private or link-local address")]
pub struct PrivateTarget;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> = found.filter(|socket| is_public(socket.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(PrivateTarget) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `address` is reachable on the public internet.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    let shared = a == 100 && (64..128).contains(&b); // carrier-grade NAT, RFC 6598
    !(address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_documentation()
        || address.is_multicast()
        || shared
        || a == 0
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let documentation = first == 0x2001 && address.segments()[1] == 0x0db8;
    !(address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_of_a_url_is_checked_before_anything_else() {
        let cases = [
            ("https://crm.example.com/hooks", false, Ok(())),
            ("http://crm.example.com/hooks", true, Ok(())),
            ("http://crm.example.com/hooks", false, Err(TargetError::NotHttps)),
            ("ftp://crm.example.com/", true, Err(TargetError::NotAbsolute)),
            ("/hooks", false, Err(TargetError::NotAbsolute)),
            ("https://user:pw@crm.example.com/", false, Err(TargetError::Credentials)),
            ("https://user@crm.example.com/", false, Err(TargetError::Credentials)),
        ];
        for (url, insecure, expected) in cases {
            assert_eq!(check_form(url, insecure).map(|_| ()), expected, "{url}");
        }
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        for url in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost/",
            "https://100.64.0.1/",
        ] {
            assert_eq!(
                check(url, false, Targets::PublicOnly).await.map(|_| ()),
                Err(TargetError::Private),
                "{url}"
            );
            assert!(check(url, false, Targets::AllowPrivate).await.is_ok(), "{url}");
        }
        assert!(check("https://93.184.215.14/", false, Targets::PublicOnly).await.is_ok());
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_name_resolving_to_an_internal_address_at_delivery_gets_nothing() {
        use reqwest::dns::Resolve;
        let resolved = PublicResolver.resolve("localhost".parse().unwrap()).await;
        let error = resolved.err().expect("localhost is refused");
        assert!(error.downcast_ref::<PrivateTarget>().is_some(), "{error}");
    }
}
