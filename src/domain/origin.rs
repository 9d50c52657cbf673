//! Web origins (scheme, host and port): what a browser sends in `Origin`, and what the node
//! works out as its own from the request (or from `server.public_url`). The WebSocket compares
//! the two before it lets a session cookie in.

use std::fmt;

/// A parsed origin. Hosts are lowercased and the port is always explicit (80 for `http`, 443
/// for `https`), so `https://Chat.example.com` equals `https://chat.example.com:443`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl Origin {
    /// An `Origin` header's value: `scheme://host[:port]`, nothing after it. `null`, other
    /// schemes and anything with a path, user or query are refused.
    pub fn parse(value: &str) -> Result<Origin, &'static str> {
        let (scheme, authority) = split_scheme(value)?;
        if authority.contains(['/', '?', '#']) {
            return Err("an origin has no path, query or fragment");
        }
        Origin::from_parts(scheme, authority)
    }

    /// The origin of a URL such as `https://chat.example.com/` (a path is allowed and ignored).
    pub fn parse_url(url: &str) -> Result<Origin, &'static str> {
        let (scheme, rest) = split_scheme(url)?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        Origin::from_parts(scheme, authority)
    }

    /// The origin a request was made to: its scheme (`http`, `https`) and its `Host` header
    /// (`host[:port]`).
    pub fn from_parts(scheme: &str, host_and_port: &str) -> Result<Origin, &'static str> {
        let (scheme, default_port) = match scheme.trim().to_ascii_lowercase().as_str() {
            "http" => ("http", 80),
            "https" => ("https", 443),
            _ => return Err("the scheme is neither http nor https"),
        };
        let authority = host_and_port.trim();
        if authority.contains('@') {
            return Err("an origin has no user part");
        }
        // `[v6 address]:port`, `name:port`, or either without a port.
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (address, rest) = v6.split_once(']').ok_or("an unclosed [ in the host")?;
                if address.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err("not an IPv6 address in [ ]");
                }
                (&authority[..address.len() + 2], rest.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if authority.starts_with('[') && port.is_none() && authority.len() != host.len() {
            return Err("junk after the host");
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| "the port is not a number")?,
            None => default_port,
        };
        let valid_name = |h: &str| {
            !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !host.starts_with('[') && !valid_name(host) {
            return Err("not a host name");
        }
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn split_scheme(value: &str) -> Result<(&str, &str), &'static str> {
    value.trim().split_once("://").ok_or("not scheme://host")
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_case_do_not_make_another_origin() {
        let a = Origin::parse("https://Chat.Example.com").unwrap();
        assert_eq!(a, Origin::parse("https://chat.example.com:443").unwrap());
        assert_eq!(a, Origin::from_parts("HTTPS", "chat.example.com").unwrap());
        assert_eq!(
            a,
            Origin::parse_url("https://chat.example.com/app?x=1").unwrap()
        );
        assert_eq!(a.to_string(), "https://chat.example.com:443");
        let local = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local, Origin::from_parts("http", "127.0.0.1:8080").unwrap());
        let v6 = Origin::parse("http://[::1]:8080").unwrap();
        assert_eq!(v6, Origin::from_parts("http", "[::1]:8080").unwrap());
        assert_eq!(
            Origin::parse("http://[::1]").unwrap(),
            Origin::from_parts("http", "[::1]:80").unwrap()
        );
    }

    #[test]
    fn scheme_host_and_port_each_tell_origins_apart() {
        let a = Origin::parse("https://chat.example.com").unwrap();
        for other in [
            "http://chat.example.com",
            "https://chat.example.com:8443",
            "https://evil.example",
            "https://chat.example.com.evil.example",
        ] {
            assert_ne!(a, Origin::parse(other).unwrap(), "{other}");
        }
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        for bad in [
            "null",
            "",
            "chat.example.com",
            "ftp://chat.example.com",
            "https://",
            "https://user@chat.example.com",
            "https://chat.example.com/path",
            "https://chat.example.com:port",
            "https://chat.example.com:99999",
            "https://chat example.com",
            "https://[::1",
            "https://[nope]:80",
            "https://[::1]x",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
    }
}
