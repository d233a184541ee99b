//! Issue 16's proof, end to end against the real binary and its SQLite file: every write type
//! records one audit entry with its actor and masked documents, rejected writes record nothing,
//! no secret reaches the trail, rollbacks restore the exact document and are live at once (and
//! never bring back a revoked key), pages are stable, and retention prunes on a moved clock.
//!
//! Each test starts its own gateway on its own data directory, so the tests run in parallel.

#[path = "console_auth/browser.rs"]
#[allow(dead_code)]
mod browser;
#[path = "audit/support.rs"]
mod support;

#[path = "audit/paging.rs"]
mod paging;
#[path = "audit/recording.rs"]
mod recording;
#[path = "audit/retention.rs"]
mod retention;
#[path = "audit/rollback.rs"]
mod rollback;
