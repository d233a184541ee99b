//! Light and dark themes: the default follows the system, and an explicit choice is kept in
//! localStorage and applied as `data-theme` on the root element, which `style.css` keys on.

use leptos::prelude::*;

const STORAGE_KEY: &str = "switchyard-theme";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

/// The current theme, shared through context.
#[derive(Clone, Copy)]
pub struct ThemeState(pub RwSignal<Theme>);

impl ThemeState {
    /// Reads the stored choice, else the system preference, and applies it.
    pub fn new() -> Self {
        let theme = stored().unwrap_or_else(system);
        apply(theme);
        ThemeState(RwSignal::new(theme))
    }

    /// Switches the theme and remembers the choice.
    pub fn toggle(&self) {
        let next = self.0.get_untracked().other();
        apply(next);
        if let Ok(Some(storage)) = window().local_storage() {
            // Private windows may refuse storage; the theme then lasts for this page only.
            let _ = storage.set_item(STORAGE_KEY, next.as_str());
        }
        self.0.set(next);
    }
}

fn stored() -> Option<Theme> {
    let storage = window().local_storage().ok()??;
    match storage.get_item(STORAGE_KEY).ok()??.as_str() {
        "dark" => Some(Theme::Dark),
        "light" => Some(Theme::Light),
        _ => None,
    }
}

fn system() -> Theme {
    let dark = window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|query| query.matches());
    if dark { Theme::Dark } else { Theme::Light }
}

fn apply(theme: Theme) {
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
}
