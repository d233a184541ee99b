//! The metering endpoints: request logs (`/api/logs`), usage over time (`/api/usage`), budgets
//! (`/api/budgets`), and the query strings the Usage and Logs pages send.

use switchyard_shared::metering::{BudgetsView, LogsPage, RequestLog, UsageReport};

use super::{ApiError, get};

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `a=1&b=2` from the pairs whose value is not empty.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| format!("{name}={}", encode(value.trim())))
        .collect::<Vec<_>>()
        .join("&")
}

/// One `GET /api/usage` question.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageQuery {
    /// `consumer`, `key`, `route`, `provider` or `model`.
    pub group_by: String,
    /// `hour` or `day`.
    pub bucket: &'static str,
    /// RFC 3339.
    pub since: String,
    pub until: Option<String>,
}

impl UsageQuery {
    /// The query string, also what the page exposes for tests to ask the same question.
    pub fn query(&self) -> String {
        query_string(&[
            ("group_by", &self.group_by),
            ("bucket", self.bucket),
            ("since", &self.since),
            ("until", self.until.as_deref().unwrap_or("")),
        ])
    }

    /// The same rows as a CSV download; the browser sends the session cookie with the link.
    pub fn csv_href(&self) -> String {
        format!("/api/usage?{}&format=csv", self.query())
    }
}

pub async fn usage(query: &UsageQuery) -> Result<UsageReport, ApiError> {
    get(&format!("/api/usage?{}", query.query())).await
}

pub async fn budgets() -> Result<BudgetsView, ApiError> {
    get("/api/budgets").await
}

/// The Logs page's filters, as typed (times already in RFC 3339).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogFilter {
    pub consumer: String,
    pub key: String,
    pub route: String,
    pub provider: String,
    pub model: String,
    /// ``, `error`, `2xx`, `4xx`, `429` or `5xx`.
    pub status: String,
    pub since: String,
    pub until: String,
}

impl LogFilter {
    pub fn query(&self, limit: u32, cursor: Option<&str>) -> String {
        let limit = limit.to_string();
        query_string(&[
            ("consumer", &self.consumer),
            ("key", &self.key),
            ("route", &self.route),
            ("provider", &self.provider),
            ("model", &self.model),
            ("status", &self.status),
            ("since", &self.since),
            ("until", &self.until),
            ("limit", &limit),
            ("cursor", cursor.unwrap_or("")),
        ])
    }
}

pub async fn logs(
    filter: &LogFilter,
    limit: u32,
    cursor: Option<&str>,
) -> Result<LogsPage, ApiError> {
    get(&format!("/api/logs?{}", filter.query(limit, cursor))).await
}

pub async fn log(request_id: &str) -> Result<RequestLog, ApiError> {
    get(&format!("/api/logs/{}", encode(request_id))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            encode("2026-12-07T00:00:00.000Z"),
            "2026-12-07T00%3A00%3A00.000Z"
        );
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            query_string(&[("a", "1"), ("b", " "), ("c", "x y")]),
            "a=1&c=x%20y"
        );
    }

    #[test]
    fn builds_usage_and_log_queries() {
        let query = UsageQuery {
            group_by: "model".into(),
            bucket: "hour",
            since: "2026-12-06T10:00:00Z".into(),
            until: None,
        };
        assert_eq!(
            query.query(),
            "group_by=model&bucket=hour&since=2026-12-06T10%3A00%3A00Z"
        );
        assert!(query.csv_href().starts_with("/api/usage?group_by=model&"));
        assert!(query.csv_href().ends_with("&format=csv"));
        let filter = LogFilter {
            consumer: "team-a".into(),
            status: "5xx".into(),
            ..LogFilter::default()
        };
        assert_eq!(
            filter.query(50, Some("abc=")),
            "consumer=team-a&status=5xx&limit=50&cursor=abc%3D"
        );
        assert_eq!(LogFilter::default().query(20, None), "limit=20");
    }
}
