//! The Configuration page's response cache card: what the cache holds (entries, size against its
//! cap, hits, misses, hit ratio), and purging it, all of it or one route's answers, after a
//! confirmation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{CachePurged, CacheStats, RouteSpec};

use crate::api::{self, ApiError};
use crate::components::icons::Icon;
use crate::components::modal::ConfirmDialog;
use crate::components::page::{LoadError, Loading, RefreshButton};
use crate::components::toast::use_toasts;
use crate::util::{fmt_int, fmt_rate};

/// What a purge removes.
#[derive(Clone, Debug, PartialEq)]
enum Purge {
    All,
    Route(String),
}

impl Purge {
    fn path(&self) -> String {
        match self {
            Purge::All => "/api/cache".to_owned(),
            Purge::Route(name) => format!("/api/cache?route={}", api::segment(name)),
        }
    }

    fn title(&self) -> String {
        match self {
            Purge::All => "Purge the whole response cache?".to_owned(),
            Purge::Route(name) => format!("Purge the cached answers of route {name}?"),
        }
    }

    fn done(&self, removed: u64) -> String {
        let answers = if removed == 1 { "answer" } else { "answers" };
        match self {
            Purge::All => format!("Removed {} cached {answers}.", fmt_int(removed)),
            Purge::Route(name) => {
                format!(
                    "Removed {} cached {answers} of route {name}.",
                    fmt_int(removed)
                )
            }
        }
    }
}

/// A size for people: `512 B`, `3.4 KiB`, `1.2 MiB`, `2.0 GiB`.
fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[component]
pub fn CacheCard() -> impl IntoView {
    let toasts = use_toasts();
    let stats = RwSignal::new(None::<Result<CacheStats, ApiError>>);
    let load = move || {
        spawn_local(async move {
            stats.try_set(Some(api::get::<CacheStats>("/api/cache").await));
        });
    };
    load();
    // Every route may have entries (a cache switched off keeps them until they expire); the
    // ones with a cache on come first.
    let routes = RwSignal::new(Vec::<(String, bool)>::new());
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<RouteSpec>>("/api/routes").await {
            let mut names: Vec<(String, bool)> = list
                .into_iter()
                .map(|r| (r.name, r.cache.is_some_and(|c| c.enabled)))
                .collect();
            names.sort_by_key(|(_, on)| !on);
            routes.try_set(names);
        }
    });
    let route = RwSignal::new(String::new());
    let target = RwSignal::new(None::<Purge>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let close = move |()| {
        target.set(None);
        error.set(None);
    };
    let confirm = move |()| {
        let Some(purge) = target.get_untracked() else {
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::call("DELETE", &purge.path(), None)
                .await
                .and_then(|reply| reply.json::<CachePurged>());
            match answer {
                Ok(purged) => {
                    toasts.success(purge.done(purged.removed));
                    target.set(None);
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let route_options = move || {
        let chosen = route.get();
        let options = routes
            .get()
            .into_iter()
            .map(|(name, on)| {
                let selected = name == chosen;
                let text = if on {
                    format!("{name} (cache on)")
                } else {
                    name.clone()
                };
                view! { <option value=name selected=selected>{text}</option> }
            })
            .collect_view();
        view! {
            <option value="" selected=chosen.is_empty() disabled=true>"Choose a route…"</option>
            {options}
        }
    };

    view! {
        <section class="card" data-testid="cache-card">
            <div class="card-head">
                <h2 class="card-title">"Response cache"</h2>
                <RefreshButton testid="cache-refresh" on_click=move |()| load() />
            </div>
            {move || match stats.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <LoadError message=e.message on_retry=move |()| load() /> }.into_any(),
                Some(Ok(s)) => view! { <StatsView stats=s /> }.into_any(),
            }}
            <div class="form-actions start">
                <label class="inline-select">
                    <span>"Route"</span>
                    <select
                        class="input"
                        data-testid="cache-purge-route-select"
                        on:change=move |ev| route.set(event_target_value(&ev))
                    >
                        {route_options}
                    </select>
                </label>
                <button
                    type="button"
                    class="btn"
                    data-testid="cache-purge-route"
                    disabled=move || route.with(String::is_empty)
                    on:click=move |_| target.set(Some(Purge::Route(route.get_untracked())))
                >
                    "Purge route"
                </button>
                <button
                    type="button"
                    class="btn btn-danger-ghost"
                    data-testid="cache-purge"
                    on:click=move |_| target.set(Some(Purge::All))
                >
                    <Icon name="trash" size=14 />
                    "Purge all"
                </button>
            </div>
        </section>
        {move || {
            target
                .get()
                .map(|purge| {
                    view! {
                        <ConfirmDialog
                            title=purge.title()
                            message="The next request of each kind goes to its provider again, and is paid for."
                            confirm_label="Purge"
                            busy=busy
                            error=error
                            on_confirm=confirm
                            on_close=close
                        />
                    }
                })
        }}
    }
}

#[component]
fn StatsView(stats: CacheStats) -> impl IntoView {
    let looked_up = stats.hits + stats.misses;
    let ratio = fmt_rate((looked_up > 0).then_some(stats.hit_ratio));
    view! {
        <dl
            class="status-grid"
            data-testid="cache-stats"
            data-entries=stats.entries
            data-bytes=stats.bytes
            data-hits=stats.hits
            data-misses=stats.misses
            data-hit-ratio=stats.hit_ratio.to_string()
        >
            <div>
                <dt>"Entries"</dt>
                <dd data-testid="cache-entries">{fmt_int(stats.entries)}</dd>
            </div>
            <div>
                <dt>"Size"</dt>
                <dd>{format!("{} of {}", fmt_bytes(stats.bytes), fmt_bytes(stats.max_bytes))}</dd>
            </div>
            <div>
                <dt>"Hits"</dt>
                <dd data-testid="cache-hits">{fmt_int(stats.hits)}</dd>
            </div>
            <div>
                <dt>"Misses"</dt>
                <dd data-testid="cache-misses">{fmt_int(stats.misses)}</dd>
            </div>
            <div>
                <dt>"Hit ratio"</dt>
                <dd data-testid="cache-hit-ratio">{ratio}</dd>
            </div>
        </dl>
        <p class="muted small">
            "Counts since the gateway started. Routes turn the cache on in their own settings; the size cap is a gateway setting."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(3 * 1024 + 400), "3.4 KiB");
        assert_eq!(fmt_bytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(fmt_bytes(1024 * 1024 * 1024), "1 GiB");
    }

    #[test]
    fn purges_say_what_they_removed() {
        assert_eq!(Purge::All.done(1), "Removed 1 cached answer.");
        assert_eq!(
            Purge::Route("chat".into()).done(1200),
            "Removed 1,200 cached answers of route chat."
        );
        assert_eq!(Purge::All.path(), "/api/cache");
    }
}
