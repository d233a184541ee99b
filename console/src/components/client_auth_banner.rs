//! The shell's warning while the proxy takes requests without a client key, with the way to
//! change that. The Settings page shows its own, fuller warning, so the banner stays off there.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::settings::{open_proxy_warning, use_gateway_settings};

#[component]
pub fn ClientAuthBanner() -> impl IntoView {
    let settings = use_gateway_settings();
    let location = use_location();
    // Another admin (or a config apply) may have changed it: each page visit asks again.
    Effect::new(move |_| {
        location.pathname.track();
        settings.refresh();
    });
    move || {
        let view = settings.view.get().filter(|_| settings.open())?;
        if location.pathname.get() == "/settings" {
            return None;
        }
        let tone = if view.proxy_loopback {
            "alert alert-warn banner"
        } else {
            "alert alert-error banner"
        };
        Some(view! {
            <div class=tone role="status" data-testid="client-auth-banner">
                <span>{open_proxy_warning(&view)}</span>
                " "
                <a href="/settings">"Require client keys in Settings"</a>
            </div>
        })
    }
}
