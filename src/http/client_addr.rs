//! The client's address: the socket peer, unless the peer is a trusted proxy.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The peer itself, or, when it is a trusted proxy, the right-most `X-Forwarded-For`
/// entry that is not a trusted proxy (entries further left are the client's own claims).
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(resolve(peer, &headers("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let got = resolve(proxy, &headers("6.6.6.6, 1.2.3.4"), &[proxy]);
        assert_eq!(got, "1.2.3.4".parse::<IpAddr>().unwrap());
    }
}
