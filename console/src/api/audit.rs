//! The audit trail's endpoints: the history (`/api/audit`), one entry with its diff
//! (`/api/audit/{revision}`), and the rollback with its preview (`/api/config/rollback`).

use switchyard_shared::audit::{
    AuditEntryView, AuditPage, RollbackDone, RollbackPreview, RollbackRequest,
};

use super::metering::query_string;
use super::{ApiError, Reply, get, post};

/// Entries per page of the History page.
pub const PAGE_SIZE: u32 = 50;

/// The History page's filters, as typed (the time already in RFC 3339).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditFilter {
    /// `provider`, `route`, `consumer`, `guardrail`, `settings`, `account`, or empty for all.
    pub kind: String,
    /// One resource of that kind; ignored without a kind, since the API filters by `kind/name`.
    pub name: String,
    /// `console:ana`, or a prefix such as `console:`.
    pub actor: String,
    pub since: String,
}

impl AuditFilter {
    /// The filter on one resource, as the edit pages' "history" link uses it.
    pub fn resource(kind: &str, name: &str) -> Self {
        AuditFilter {
            kind: kind.to_owned(),
            name: name.to_owned(),
            ..AuditFilter::default()
        }
    }

    /// The API's `resource` value: `kind`, `kind/name`, or empty.
    pub fn resource_param(&self) -> String {
        let (kind, name) = (self.kind.trim(), self.name.trim());
        match (kind.is_empty(), name.is_empty()) {
            (true, _) => String::new(),
            (false, true) => kind.to_owned(),
            (false, false) => format!("{kind}/{name}"),
        }
    }

    /// The query string of `GET /api/audit`.
    pub fn query(&self, limit: u32, cursor: Option<i64>) -> String {
        let limit = limit.to_string();
        let cursor = cursor.map(|c| c.to_string()).unwrap_or_default();
        query_string(&[
            ("resource", &self.resource_param()),
            ("actor", &self.actor),
            ("since", &self.since),
            ("limit", &limit),
            ("cursor", &cursor),
        ])
    }

    /// The History page's URL for these filters, so a view of one resource can be linked.
    pub fn href(&self) -> String {
        let query = query_string(&[
            ("resource", &self.resource_param()),
            ("actor", &self.actor),
            ("since", &self.since),
        ]);
        if query.is_empty() {
            "/history".to_owned()
        } else {
            format!("/history?{query}")
        }
    }

    /// The filters a URL's `resource`, `actor` and `since` name.
    pub fn from_params(resource: &str, actor: &str, since: &str) -> Self {
        let (kind, name) = resource.split_once('/').unwrap_or((resource, ""));
        AuditFilter {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actor: actor.to_owned(),
            since: since.to_owned(),
        }
    }
}

pub async fn page(filter: &AuditFilter, cursor: Option<i64>) -> Result<AuditPage, ApiError> {
    get(&format!("/api/audit?{}", filter.query(PAGE_SIZE, cursor))).await
}

/// The newest entry that touched one resource, for the edit pages' "last changed by" line.
pub async fn last_change(kind: &str, name: &str) -> Result<Option<AuditEntryView>, ApiError> {
    let filter = AuditFilter::resource(kind, name);
    let page: AuditPage = get(&format!("/api/audit?{}", filter.query(1, None))).await?;
    Ok(page.entries.into_iter().next())
}

/// One entry with its documents and diff.
pub async fn entry(revision: i64) -> Result<AuditEntryView, ApiError> {
    get(&format!("/api/audit/{revision}")).await
}

/// What rolling back to `to` would change; writes nothing.
pub async fn rollback_preview(to: i64) -> Result<RollbackPreview, ApiError> {
    let request = RollbackRequest {
        to,
        dry_run: true,
        expected_revision: None,
    };
    post("/api/config/rollback", &request).await?.json()
}

/// Rolls back to `to`, provided the configuration is still at `expected_revision` (the preview's
/// `revision_now`); the server answers 409 otherwise. The reply carries the snapshot version.
pub async fn rollback(to: i64, expected_revision: i64) -> Result<(RollbackDone, Reply), ApiError> {
    let request = RollbackRequest {
        to,
        dry_run: false,
        expected_revision: Some(expected_revision),
    };
    let reply = post("/api/config/rollback", &request).await?;
    Ok((reply.json()?, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_history_queries_and_links() {
        let filter = AuditFilter::resource("route", "mock-route");
        assert_eq!(filter.query(1, None), "resource=route%2Fmock-route&limit=1");
        assert_eq!(filter.href(), "/history?resource=route%2Fmock-route");
        let filter = AuditFilter {
            kind: "provider".into(),
            actor: "console:ana".into(),
            ..AuditFilter::default()
        };
        assert_eq!(
            filter.query(50, Some(17)),
            "resource=provider&actor=console%3Aana&limit=50&cursor=17"
        );
        assert_eq!(AuditFilter::default().href(), "/history");
        // A name without a kind cannot be asked for, so it is left out.
        let filter = AuditFilter {
            name: "x".into(),
            ..AuditFilter::default()
        };
        assert_eq!(filter.query(50, None), "limit=50");
    }

    #[test]
    fn reads_filters_from_the_url() {
        let filter = AuditFilter::from_params("route/mock-route", "", "");
        assert_eq!(filter, AuditFilter::resource("route", "mock-route"));
        assert_eq!(
            AuditFilter::from_params("settings", "", "").kind,
            "settings"
        );
        assert_eq!(
            AuditFilter::from_params("", "cli:root", "").actor,
            "cli:root"
        );
    }
}
