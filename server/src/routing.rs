//! Smart routing: how a route's strategy chooses among the usable upstreams of a priority group.
//!
//! Three parts, each pure where it can be:
//! - [`stats`]: what each upstream (provider + upstream model) has measured — time to first
//!   token, decode speed, output length, cached share, requests in flight — as lock-free atomics
//!   that live in the `HealthRegistry`, outside the snapshot, so a reload keeps them;
//! - [`choose`]: the predictions (time, price) and the strategies over a list of candidates;
//! - [`sticky`]: a session's key (consumer, client key or header) and rendezvous hashing.
//!
//! `snapshot::Route::pick_primary` gathers the candidates and calls [`choose::choose`]; the
//! `weighted` strategy keeps its allocation-free loop there and never comes here.

pub mod choose;
pub mod stats;
pub mod sticky;

pub use choose::{Decision, Demand, Estimate, Strategy, Why};
pub use stats::{Flight, Landing, UpstreamKey, UpstreamStats};

#[cfg(test)]
mod tests_bench;
