//! The gateway's settings as the console last read them (`GET /api/settings`), shared through
//! context so the shell can warn while client keys are off and the Settings page can update it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{ClientAuth, SettingsView};

use crate::api;

#[derive(Clone, Copy)]
pub struct GatewaySettings {
    /// `None` until the first answer (or while the server cannot say).
    pub view: RwSignal<Option<SettingsView>>,
}

impl GatewaySettings {
    pub fn new() -> Self {
        GatewaySettings {
            view: RwSignal::new(None),
        }
    }

    /// Reads the settings again; a failure keeps what was known.
    pub fn refresh(self) {
        spawn_local(async move {
            if let Ok(view) = api::get::<SettingsView>("/api/settings").await {
                self.view.try_set(Some(view));
            }
        });
    }

    /// Whether the proxy takes requests without a key, as far as the console knows.
    pub fn open(&self) -> bool {
        self.view.with(|v| {
            v.as_ref()
                .is_some_and(|v| v.effective_client_auth == ClientAuth::Off)
        })
    }
}

pub fn use_gateway_settings() -> GatewaySettings {
    expect_context::<GatewaySettings>()
}

/// What the warning says while client keys are off, by where the proxy listens.
pub fn open_proxy_warning(view: &SettingsView) -> &'static str {
    if view.proxy_loopback {
        "Client keys are off: any program on this machine can call the proxy without a key and spend your provider keys."
    } else {
        "Client keys are off and the proxy listens on a network address: anyone who can reach it can spend your provider keys."
    }
}
