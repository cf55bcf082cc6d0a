//! The client's IP address, as sent to Authsignal's IP rules.
//!
//! By default it is the peer address of the connection (`ConnectInfo<SocketAddr>`): behind
//! a proxy that is the proxy. An app behind proxies names them and the ONE header they write
//! (`X-Forwarded-For` or `Forwarded`); only when the peer is one of them is that header
//! read, and the other is ignored, since a client can send either. The address is the
//! rightmost one that is not a trusted proxy: every address left of the first untrusted hop
//! may have been written by the client itself. When every address is a trusted proxy,
//! none is sent (see [`ForwardedHeader`]).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;

/// The header the app's proxies write the client's address in, named with
/// [`trusted_proxies`](super::StepUpConfigBuilder::trusted_proxies). Only that header is
/// read: a client can send the other one too, and no proxy of the app would correct it.
///
/// Of the addresses the header lists (each proxy appends the address it was connected
/// from), the gate sends the rightmost that is not a trusted proxy: left of it, anything
/// may have been written by the client. It sends none when that address cannot be read
/// (`unknown`, an obfuscated `_node`, garbage) or when every address, the peer included,
/// is a trusted proxy: the leftmost of those may be the client's own writing, and a
/// proxy's address is not the client's, so either would have Authsignal's IP rules judge
/// an address that is not the client's. A request from a trusted proxy without the header
/// (a health check, a proxy not set up to write it) likewise sends none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: <client>, <proxy 1>, ...`, as most load balancers and reverse
    /// proxies write it (nginx's `$proxy_add_x_forwarded_for`, AWS ALB, ...).
    XForwardedFor,
    /// `Forwarded: for=<client>, for=<proxy 1>` (RFC 7239). An element without `for` is
    /// an address that cannot be read.
    Forwarded,
}

/// Where the client's address comes from.
#[derive(Debug, Clone, Default)]
pub(crate) enum ClientIp {
    /// The peer address, whatever the headers say.
    #[default]
    Peer,
    /// `header`, when the peer is one of the `trusted` proxies.
    Proxied {
        header: ForwardedHeader,
        trusted: Vec<IpNet>,
    },
}

impl ClientIp {
    pub(crate) fn behind(header: ForwardedHeader, trusted: Vec<IpNet>) -> Self {
        Self::Proxied { header, trusted }
    }

    /// The client's address for this request, if it can be told.
    pub(crate) fn of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| canonical(info.0.ip()))?;
        let Self::Proxied { header, trusted } = self else {
            return Some(peer);
        };
        let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
        if !is_trusted(peer) {
            return Some(peer);
        }
        let hops = match header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(&parts.headers),
            ForwardedHeader::Forwarded => forwarded_for(&parts.headers),
        };
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if is_trusted(*ip) => continue,
                Some(ip) => return Some(*ip),
                // An unreadable hop left of the trusted ones: the client is behind it, and
                // its address is unknown.
                None => return None,
            }
        }
        // Every address, the peer's included, is a trusted proxy (see `ForwardedHeader`).
        None
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

/// The `for=` nodes of every `Forwarded` header, in order (`None` for a node that cannot be
/// read, or an element without one); empty without the header.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
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
            hops.push(node.and_then(|node| parse_node(node.trim_matches('"'))));
        }
    }
    hops
}

/// The addresses of every `X-Forwarded-For` header, in order (`None` for one that cannot be
/// read); empty without the header.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(value) => hops.extend(value.split(',').map(|hop| parse_node(hop.trim()))),
            Err(_) => hops.push(None),
        }
    }
    hops
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

    fn behind(header: ForwardedHeader) -> ClientIp {
        ClientIp::behind(
            header,
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        )
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    type Case<'a> = (&'a [(&'a str, &'a str)], Option<IpAddr>);

    fn check(client_ip: &ClientIp, cases: &[Case]) {
        for (headers, expected) in cases {
            assert_eq!(
                client_ip.of(&parts("10.0.0.2:1", headers)),
                *expected,
                "{client_ip:?} {headers:?}"
            );
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let spoofed = parts(
            "203.0.113.9:5000",
            &[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")],
        );
        assert_eq!(ClientIp::default().of(&spoofed), ip("203.0.113.9"));
        let without_connect_info = http::Request::new(()).into_parts().0;
        assert_eq!(ClientIp::default().of(&without_connect_info), None);
    }

    #[test]
    fn an_untrusted_peer_changes_nothing_whatever_it_sends() {
        for headers in [
            [("x-forwarded-for", "1.2.3.4")],
            [("forwarded", "for=1.2.3.4")],
            [("x-forwarded-for", "10.0.0.1, 1.2.3.4")],
        ] {
            let spoofed = parts("203.0.113.9:5000", &headers);
            for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
                assert_eq!(
                    behind(header).of(&spoofed),
                    ip("203.0.113.9"),
                    "{headers:?}"
                );
            }
        }
    }

    #[test]
    fn behind_x_forwarded_for_proxies_the_rightmost_untrusted_hop_is_the_client() {
        check(
            &behind(ForwardedHeader::XForwardedFor),
            &[
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
                    &[("x-forwarded-for", "[2001:db8::17]:4711")],
                    ip("2001:db8::17"),
                ),
                (&[("x-forwarded-for", "garbage")], None),
                (&[("x-forwarded-for", "198.51.100.7, , 10.0.0.3")], None),
                // A `Forwarded` header is the client's own: the proxies write the other.
                (
                    &[
                        ("forwarded", "for=6.6.6.6"),
                        ("x-forwarded-for", "198.51.100.7"),
                    ],
                    ip("198.51.100.7"),
                ),
                (&[("forwarded", "for=6.6.6.6")], None),
            ],
        );
    }

    #[test]
    fn behind_forwarded_proxies_the_rightmost_untrusted_hop_is_the_client() {
        check(
            &behind(ForwardedHeader::Forwarded),
            &[
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
                (&[("forwarded", "for=_hidden, for=10.0.0.3")], None),
                (&[("forwarded", "for=198.51.100.7, proto=https")], None),
                // An `X-Forwarded-For` header is the client's own: the proxies write the other.
                (
                    &[
                        ("x-forwarded-for", "6.6.6.6"),
                        ("forwarded", "for=198.51.100.7"),
                    ],
                    ip("198.51.100.7"),
                ),
                (&[("x-forwarded-for", "6.6.6.6")], None),
            ],
        );
    }

    #[test]
    fn when_every_hop_is_a_trusted_proxy_no_address_is_sent() {
        // The leftmost may be the client's own writing, the peer is a proxy: neither is the
        // client's address.
        check(
            &behind(ForwardedHeader::XForwardedFor),
            &[
                (&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")], None),
                (&[("x-forwarded-for", "10.6.6.6")], None),
                (&[], None),
            ],
        );
        check(
            &behind(ForwardedHeader::Forwarded),
            &[(&[("forwarded", "for=10.0.0.5, for=\"[::1]\"")], None)],
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let request = parts(
            "[::ffff:10.0.0.2]:1",
            &[("x-forwarded-for", "198.51.100.7")],
        );
        assert_eq!(
            behind(ForwardedHeader::XForwardedFor).of(&request),
            ip("198.51.100.7")
        );
    }
}
