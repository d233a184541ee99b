//! The frame around every signed-in page: sidebar navigation (a menu on narrow screens), the
//! header with the theme toggle and the user menu, and the guard that sends a visitor without a
//! session to the login page, or to the setup page while no admin exists.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api;
use crate::components::client_auth_banner::ClientAuthBanner;
use crate::components::icons::Icon;
use crate::components::page::Loading;
use crate::session::use_session;
use crate::theme::ThemeState;
use wasm_bindgen::JsCast;

/// Redirects according to the session; shows the frame only to a signed-in admin.
#[component]
pub fn Shell() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let location = use_location();
    Effect::new(move |_| {
        let Some(me) = session.me.get() else { return };
        let replace = NavigateOptions {
            replace: true,
            ..NavigateOptions::default()
        };
        if me.setup_required {
            navigate("/setup", replace);
        } else if !me.authenticated {
            if !session.logging_out.get_untracked() {
                let here = format!(
                    "{}{}",
                    location.pathname.get_untracked(),
                    location.search.get_untracked()
                );
                session.return_to.set(Some(here));
            }
            navigate("/login", replace);
        }
    });
    let ready = Memo::new(move |_| {
        session.me.with(|me| {
            me.as_ref()
                .is_some_and(|me| me.authenticated && !me.setup_required)
        })
    });
    view! {
        <Show when=move || ready.get() fallback=move || view! { <Splash /> }>
            <Frame />
        </Show>
    }
}

/// What shows while the session is unknown: a spinner, or why it cannot be known.
#[component]
pub fn Splash() -> impl IntoView {
    let session = use_session();
    move || match session.load_error.get() {
        Some(message) => view! {
            <div class="splash">
                <div class="alert alert-error" role="alert">
                    <p>{message}</p>
                    <button type="button" class="btn" on:click=move |_| session.refresh()>
                        "Try again"
                    </button>
                </div>
            </div>
        }
        .into_any(),
        None => view! {
            <div class="splash">
                <Loading text="Connecting to the gateway…" />
            </div>
        }
        .into_any(),
    }
}

#[component]
fn Frame() -> impl IntoView {
    let nav_open = RwSignal::new(false);
    let location = use_location();
    // The mobile menu closes once a link in it has been followed.
    Effect::new(move |_| {
        location.pathname.track();
        nav_open.set(false);
    });
    view! {
        <div class="layout" class:nav-open=move || nav_open.get()>
            <aside class="sidebar" id="sidebar">
                <a class="brand" href="/">
                    <Icon name="logo" size=24 />
                    <span>"Switchyard"</span>
                </a>
                <nav
                    aria-label="Main"
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" && nav_open.get_untracked() {
                            nav_open.set(false);
                            focus_selector(".menu-btn");
                        }
                    }
                >
                    <ul class="nav">
                        <NavLink href="/" label="Dashboard" icon="dashboard" testid="nav-dashboard" />
                        <NavLink
                            href="/providers"
                            label="AI service providers"
                            icon="providers"
                            testid="nav-providers"
                        />
                        <NavLink href="/routes" label="AI routes" icon="routes" testid="nav-routes" />
                        <NavLink
                            href="/consumers"
                            label="Consumers"
                            icon="consumers"
                            testid="nav-consumers"
                        />
                        <NavLink
                            href="/guardrails"
                            label="Guardrails"
                            icon="guardrails"
                            testid="nav-guardrails"
                        />
                        <NavLink href="/usage" label="Usage" icon="usage" testid="nav-usage" />
                        <NavLink href="/logs" label="Logs" icon="logs" testid="nav-logs" />
                        <NavLink
                            href="/playground"
                            label="Playground"
                            icon="playground"
                            testid="nav-playground"
                        />
                        <NavLink href="/config" label="Configuration" icon="config" testid="nav-config" />
                        <NavLink href="/history" label="History" icon="history" testid="nav-history" />
                        <NavLink href="/settings" label="Settings" icon="settings" testid="nav-settings" />
                    </ul>
                </nav>
            </aside>
            <div class="nav-backdrop" on:click=move |_| nav_open.set(false)></div>
            <div class="main-col">
                <header class="topbar">
                    <button
                        type="button"
                        class="icon-btn menu-btn"
                        aria-label="Menu"
                        aria-controls="sidebar"
                        aria-expanded=move || nav_open.get().to_string()
                        on:click=move |_| {
                            let open = !nav_open.get_untracked();
                            nav_open.set(open);
                            // The menu covers the page, so keyboard focus moves into it.
                            if open {
                                focus_selector("#sidebar .nav-link");
                            }
                        }
                    >
                        <Icon name="menu" />
                    </button>
                    <a class="brand brand-compact" href="/">
                        <Icon name="logo" size=22 />
                        <span>"Switchyard"</span>
                    </a>
                    <div class="topbar-spacer"></div>
                    <ThemeToggle />
                    <UserMenu />
                </header>
                <main class="content" id="main">
                    <ClientAuthBanner />
                    <Outlet />
                </main>
            </div>
        </div>
    }
}

/// Focuses the first element matching `selector`, once the DOM shows it.
fn focus_selector(selector: &'static str) {
    request_animation_frame(move || {
        let element = document().query_selector(selector).ok().flatten();
        if let Some(element) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

/// A sidebar link, marked as the current page for its path and the paths below it.
#[component]
fn NavLink(
    href: &'static str,
    label: &'static str,
    icon: &'static str,
    testid: &'static str,
) -> impl IntoView {
    let location = use_location();
    let current = move || {
        let path = location.pathname.get();
        let active = if href == "/" {
            path == "/" || path.is_empty()
        } else {
            path == href || path.starts_with(&format!("{href}/"))
        };
        active.then_some("page")
    };
    view! {
        <li>
            <a class="nav-link" href=href data-testid=testid aria-current=current>
                <Icon name=icon />
                <span>{label}</span>
            </a>
        </li>
    }
}

/// Switches between the light and the dark theme.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = expect_context::<ThemeState>();
    let label = move || format!("Switch to {} theme", theme.0.get().other().as_str());
    view! {
        <button
            type="button"
            class="icon-btn"
            data-testid="theme-toggle"
            aria-label=label
            title=label
            on:click=move |_| theme.toggle()
        >
            {move || {
                let name = if theme.0.get() == crate::theme::Theme::Dark { "sun" } else { "moon" };
                view! { <Icon name=name /> }
            }}
        </button>
    }
}

/// The signed-in user's name, with Change password and Log out.
#[component]
fn UserMenu() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let open = RwSignal::new(false);
    let logout = move |_| {
        open.set(false);
        let navigate = navigate.clone();
        spawn_local(async move {
            // Even if the server cannot be reached the local session is dropped: the user asked to leave.
            let _ = api::post_empty("/api/auth/logout").await;
            session.logging_out.set(true);
            session.return_to.set(None);
            session.signed_out();
            navigate("/login", NavigateOptions::default());
        });
    };
    view! {
        <div class="user-menu">
            <button
                type="button"
                class="btn btn-ghost user-btn"
                data-testid="user-menu"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <Icon name="user" />
                <span class="user-name">{move || session.username()}</span>
                <Icon name="chevron" size=14 />
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <div
                    class="menu"
                    role="menu"
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" {
                            open.set(false);
                        }
                    }
                >
                    <a
                        class="menu-item"
                        role="menuitem"
                        href="/account"
                        data-testid="change-password"
                        on:click=move |_| open.set(false)
                    >
                        <Icon name="key" />
                        "Change password"
                    </a>
                    <button
                        type="button"
                        class="menu-item"
                        role="menuitem"
                        data-testid="logout"
                        on:click=logout.clone()
                    >
                        <Icon name="logout" />
                        "Log out"
                    </button>
                </div>
            </Show>
        </div>
    }
}

/// The centred card of the setup and login pages, outside the signed-in frame.
#[component]
pub fn AuthFrame(
    #[prop(into)] title: String,
    #[prop(into)] subtitle: String,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="auth-page">
            <div class="auth-corner">
                <ThemeToggle />
            </div>
            <main class="auth-card">
                <div class="brand auth-brand">
                    <Icon name="logo" size=28 />
                    <span>"Switchyard"</span>
                </div>
                <h1>{title}</h1>
                <p class="subtitle">{subtitle}</p>
                {children()}
            </main>
        </div>
    }
}
