//! A stat card: a label, one big figure and a line of detail, as the dashboard and the Usage page
//! show their totals. The figure's element carries the test id and, when given, the raw value, so
//! a test can compare it with the API without parsing formatted text.

use leptos::prelude::*;

#[component]
pub fn Stat(
    #[prop(into)] label: String,
    #[prop(into)] value: Signal<String>,
    #[prop(into)] detail: Signal<String>,
    /// The figure's `data-testid`.
    #[prop(optional, into)]
    testid: Option<String>,
    /// The unformatted figure, as `data-value`.
    #[prop(optional, into)]
    raw: MaybeProp<String>,
) -> impl IntoView {
    view! {
        <div class="stat card">
            <div class="stat-label">{label}</div>
            <div class="stat-value" data-testid=testid data-value=move || raw.get()>
                {move || value.get()}
            </div>
            <div class="stat-detail muted small">{move || detail.get()}</div>
        </div>
    }
}
