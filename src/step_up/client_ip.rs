//! The client's IP address, as sent to Authsignal's IP rules.
//!
//! By default it is the peer address of the connection (`ConnectInfo<SocketAddr>`): behind
//! a proxy that is the proxy. With trusted proxies configured, and only when the peer is
//! one of them, the address is taken from `Forwarded` (RFC 7239) or else
//! `X-Forwarded-For`: the rightmost address that is not a trusted proxy, since every
//! address left of the first untrusted hop may have been written by the client itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;

/// Which peers may tell the client's address.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientIp {
    trusted: Vec<IpNet>,
}

impl ClientIp {
    pub(crate) fn trusting(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for this request, if it can be told.
    pub(crate) fn of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| canonical(info.0.ip()))?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let hops = forwarded_for(&parts.headers).or_else(|| x_forwarded_for(&parts.headers));
        let Some(hops) = hops else {
            return Some(peer);
        };
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(*ip) => continue,
                Some(ip) => return Some(*ip),
                // An obfuscated or unparsable hop left of the trusted ones: the client is
                // behind it, and its address is unknown. A proxy's address would mislead.
                None => return None,
            }
        }
        // Every hop is a trusted proxy: the leftmost is the closest to the client.
        hops.first().copied().flatten().or(Some(peer))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as a dual-stack listener reports IPv4
/// peers) compare as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The `for=` nodes of every `Forwarded` header, in order; `None` without the header.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    let mut seen = false;
    for value in headers.get_all("forwarded") {
        seen = true;
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim())
            });
            if let Some(node) = node {
                hops.push(parse_node(node.trim_matches('"')));
            }
        }
    }
    seen.then_some(hops)
}

/// The addresses of every `X-Forwarded-For` header, in order; `None` without the header.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    let mut seen = false;
    for value in headers.get_all("x-forwarded-for") {
        seen = true;
        match value.to_str() {
            Ok(value) => hops.extend(value.split(',').map(|hop| parse_node(hop.trim()))),
            Err(_) => hops.push(None),
        }
    }
    seen.then_some(hops)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse().ok().map(canonical);
    }
    node.parse::<SocketAddr>()
        .ok()
        .map(|addr| canonical(addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    fn proxies() -> ClientIp {
        ClientIp::trusting(vec![
            "10.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ])
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let spoofed = parts("203.0.113.9:5000", &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(ClientIp::default().of(&spoofed), ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_changes_nothing_whatever_it_sends() {
        for headers in [
            [("x-forwarded-for", "1.2.3.4")],
            [("forwarded", "for=1.2.3.4")],
            [("x-forwarded-for", "10.0.0.1, 1.2.3.4")],
        ] {
            let spoofed = parts("203.0.113.9:5000", &headers);
            assert_eq!(proxies().of(&spoofed), ip("203.0.113.9"), "{headers:?}");
        }
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<IpAddr>);
        let cases: &[Case] = &[
            (&[("x-forwarded-for", "198.51.100.7")], ip("198.51.100.7")),
            // The client wrote the leftmost entry itself.
            (
                &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")],
                ip("198.51.100.7"),
            ),
            (
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "198.51.100.7"),
                ],
                ip("198.51.100.7"),
            ),
            (
                &[(
                    "forwarded",
                    "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https",
                )],
                ip("2001:db8::17"),
            ),
            (
                &[("forwarded", "for=198.51.100.7:80;by=10.0.0.2")],
                ip("198.51.100.7"),
            ),
            // `Forwarded` wins over `X-Forwarded-For`.
            (
                &[
                    ("forwarded", "for=198.51.100.7"),
                    ("x-forwarded-for", "6.6.6.6"),
                ],
                ip("198.51.100.7"),
            ),
            (&[("forwarded", "for=_hidden, for=10.0.0.3")], None),
            (&[("x-forwarded-for", "garbage")], None),
            (&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")], ip("10.0.0.5")),
            (&[], ip("10.0.0.2")),
        ];
        for (headers, expected) in cases {
            assert_eq!(
                proxies().of(&parts("10.0.0.2:1", headers)),
                *expected,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let request = parts(
            "[::ffff:10.0.0.2]:1",
            &[("x-forwarded-for", "198.51.100.7")],
        );
        assert_eq!(proxies().of(&request), ip("198.51.100.7"));
    }
}
