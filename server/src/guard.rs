//! Checks at the edge of both listeners that keep browsers from being used against the gateway:
//! the `Host` allow-list (DNS rebinding), the admin API's content types (cross-site "simple"
//! POSTs), and the proxy's refusal of cross-site browser requests.
//!
//! A web page can make a visitor's browser send requests to `localhost:8080` or `:8001`. It cannot
//! choose the `Host` header (the browser writes the page's own host name there, even when DNS
//! rebinding points that name at 127.0.0.1), it cannot send a JSON content type cross-site
//! without a CORS preflight (which the gateway never answers), and the browser marks its requests
//! with `Origin` and `Sec-Fetch-Site`. SDKs and `curl` send none of these markers, so they are not
//! affected.

use std::net::IpAddr;

use http::{HeaderMap, Method, header};

/// The `Host` names the listeners answer to: IP literals and `localhost` always (a rebinding
/// attack needs a DNS name of the attacker's), plus the operator's list.
#[derive(Clone, Debug, Default)]
pub struct HostPolicy {
    /// Lowercase names, with or without a port; `*` allows any.
    allowed: Vec<String>,
}

impl HostPolicy {
    pub fn new(allowed: &[String]) -> HostPolicy {
        HostPolicy {
            allowed: allowed
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Whether a request with this `Host` (or HTTP/2 authority) may be served. A request without
    /// one is not from a browser and is served.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host.map(|h| h.trim().to_ascii_lowercase()) else {
            return true;
        };
        if self.allowed.iter().any(|a| a == "*" || *a == host) {
            return true;
        }
        let name = host_name(&host);
        name == "localhost"
            || name.parse::<IpAddr>().is_ok()
            || self.allowed.iter().any(|a| a == name)
    }
}

/// The name part of `name:port`, `[v6]:port` or `[v6]`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The `Host` of a request: the header, else the URI's authority (HTTP/2).
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// Whether an admin API request's body has a content type a cross-site form cannot send: JSON
/// (and, for the configuration import, YAML). Requests without a body pass.
pub fn admin_content_type_ok(method: &Method, headers: &HeaderMap, yaml_allowed: bool) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let has_body = headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|l| l > 0);
    if !has_body {
        return true;
    }
    let Some(media) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    else {
        return false;
    };
    media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
        || (yaml_allowed
            && matches!(
                media.as_str(),
                "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
            ))
}

/// Why a proxy request from a browser on another site is refused, if it is: an `Origin` that is
/// neither the gateway's own nor allowed, or `Sec-Fetch-Site: cross-site` without an allowed
/// origin.
pub fn cross_site_refusal(
    headers: &HeaderMap,
    host: Option<&str>,
    allowed_origins: &[String],
) -> Option<String> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let origin_allowed = |origin: &str| {
        allowed_origins
            .iter()
            .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    };
    if let Some(origin) = origin {
        if origin_allowed(origin) {
            return None;
        }
        let same_host = origin
            .split_once("://")
            .map(|(_, authority)| authority)
            .zip(host)
            .is_some_and(|(authority, host)| authority.eq_ignore_ascii_case(host));
        if !same_host {
            return Some(format!(
                "Requests from the web origin {origin} are not allowed. Call the gateway from a \
                 server, or have the operator add the origin with --allowed-origins."
            ));
        }
    }
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
    if cross_site && !origin.is_some_and(origin_allowed) {
        return Some(
            "Cross-site browser requests are not allowed. Call the gateway from a server, or have \
             the operator add your origin with --allowed-origins."
                .to_owned(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn hosts() {
        let policy = HostPolicy::new(&["gw.example.com".into(), "other:9000".into()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8001",
            "LOCALHOST",
            "[::1]:8080",
            "10.0.0.5",
            "gw.example.com:8080",
            "other:9000",
        ] {
            assert!(policy.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "other:9001",
            "localhost.evil.com",
            "gw.example.com.evil",
        ] {
            assert!(!policy.allows(Some(refused)), "{refused}");
        }
        assert!(policy.allows(None));
        assert!(HostPolicy::new(&["*".into()]).allows(Some("anything.example")));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn admin_content_types() {
        let post = Method::POST;
        let json = headers(&[
            ("content-type", "application/json; charset=utf-8"),
            ("content-length", "2"),
        ]);
        assert!(admin_content_type_ok(&post, &json, false));
        let form = headers(&[
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "2"),
        ]);
        assert!(!admin_content_type_ok(&post, &form, false));
        let plain = headers(&[("content-type", "text/plain"), ("content-length", "2")]);
        assert!(!admin_content_type_ok(&post, &plain, true));
        let untyped = headers(&[("content-length", "2")]);
        assert!(!admin_content_type_ok(&post, &untyped, false));
        let yaml = headers(&[("content-type", "text/yaml"), ("content-length", "2")]);
        assert!(admin_content_type_ok(&post, &yaml, true));
        assert!(!admin_content_type_ok(&post, &yaml, false));
        let empty = headers(&[("content-length", "0")]);
        assert!(admin_content_type_ok(&post, &empty, false));
        assert!(admin_content_type_ok(&post, &HeaderMap::new(), false));
        assert!(admin_content_type_ok(&Method::GET, &plain, false));
    }

    #[test]
    fn cross_site_browser_requests() {
        let host = Some("localhost:8080");
        assert!(
            cross_site_refusal(&HeaderMap::new(), host, &[]).is_none(),
            "SDKs and curl"
        );
        let foreign = headers(&[("origin", "https://evil.example")]);
        assert!(cross_site_refusal(&foreign, host, &[]).is_some());
        assert!(cross_site_refusal(&foreign, host, &["https://evil.example/".into()]).is_none());
        let same = headers(&[("origin", "http://localhost:8080")]);
        assert!(cross_site_refusal(&same, host, &[]).is_none());
        let fetch = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(cross_site_refusal(&fetch, host, &[]).is_some());
        let same_site = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(cross_site_refusal(&same_site, host, &[]).is_none());
    }
}
