//! The phases every proxied request goes through, over one per-request context.
//!
//! In order: **authenticate** (who is calling: a client key or anonymous) → **route** (the
//! snapshot's lookup, in `proxy.rs`) → **authorize** (may this caller use this route and model) →
//! **admit** (every applicable limit passes, reserving a concurrency slot and a token estimate) →
//! **budget** (every spend budget has room; reserves the worst-case cost) → **exchange**
//! (attempts against upstreams, in `proxy/`) → **finish** (exactly once, when the response body
//! ends, fails or is dropped by a disconnecting client: releases the slot, replaces the token and
//! cost reservations with the real usage and cost, and hands the request's record to the meter).
//!
//! Routing comes before authorization and admission because a route's own access rule and limits
//! apply, so they must be known first. Each phase is a plain function of the snapshot and the
//! request, unit-tested on its own; a phase may refuse the request (with a `ProxyError`) but never
//! reads the database, blocks, or waits: limits are atomics, keys one hash lookup.

mod admit;
mod authenticate;
mod authorize;
mod budget;
mod cache;
mod finish;
mod guard;
mod shared;

use std::sync::Arc;

pub use admit::{Admitted, admit, prompt_estimate, rate_limit_headers};
pub use authenticate::{authenticate, presented_key};
pub use authorize::authorize;
pub use budget::reserve_budget;
pub use cache::{CACHE_HEADER, CachePlan, Directive};
pub use finish::{CacheStore, Finish, GuardedBody, InFlight, InFlightLimit, Tally};
pub use guard::{guard_request, policies};
pub use shared::{Ask, Cleared, admit_and_reserve, asks_redis};

use crate::consumers::ClientKey;

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No Switchyard key, while client auth is off.
    Anonymous,
    /// A valid, live client key (and through it, its consumer).
    Key(Arc<ClientKey>),
}

impl Caller {
    pub fn key(&self) -> Option<&ClientKey> {
        match self {
            Caller::Anonymous => None,
            Caller::Key(key) => Some(key),
        }
    }

    pub fn consumer_name(&self) -> Option<&str> {
        self.key().map(|key| &*key.consumer.name)
    }
}
