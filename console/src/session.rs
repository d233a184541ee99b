//! The signed-in session: whether setup is needed, who is signed in, and how to refresh that.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, types::Me};

/// Shared through context by the app root.
#[derive(Clone, Copy)]
pub struct Session {
    /// `None` until `/api/auth/me` first answers.
    pub me: RwSignal<Option<Me>>,
    /// Why `/api/auth/me` could not be read, shown instead of an endless spinner.
    pub load_error: RwSignal<Option<String>>,
    /// The page a signed-out user asked for, visited after signing in.
    pub return_to: RwSignal<Option<String>>,
    /// Set by an explicit logout, so that the next login starts at the dashboard.
    pub logging_out: RwSignal<bool>,
}

impl Session {
    pub fn new() -> Self {
        Session {
            me: RwSignal::new(None),
            load_error: RwSignal::new(None),
            return_to: RwSignal::new(None),
            logging_out: RwSignal::new(false),
        }
    }

    /// Records an answer of `/me`, setup or login, and its CSRF token for later writes.
    pub fn set(&self, me: Me) {
        api::set_csrf_token(me.csrf_token.clone());
        self.load_error.set(None);
        self.me.set(Some(me));
    }

    /// Asks the server who is signed in; the guards in the shell and the auth pages react.
    pub fn refresh(self) {
        spawn_local(async move {
            match api::get::<Me>("/api/auth/me").await {
                Ok(me) => self.set(me),
                Err(error) => self.load_error.set(Some(error.message)),
            }
        });
    }

    /// Forgets the session locally after logout, keeping whether setup is still required.
    pub fn signed_out(&self) {
        api::set_csrf_token(None);
        self.me.set(Some(Me::default()));
    }

    pub fn username(&self) -> String {
        self.me
            .with(|me| me.as_ref().and_then(|m| m.username.clone()))
            .unwrap_or_else(|| "admin".into())
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
