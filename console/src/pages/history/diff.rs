//! One change's structured diff: a line per changed value, named by its JSON pointer, with the
//! value before in red and after in green, as compact JSON. Secrets arrive masked by the server,
//! so what is shown here is safe to show.

use leptos::prelude::*;
use serde_json::Value;
use switchyard_shared::audit::{AuditChangeView, DiffLine, DiffOp};

/// A value as one line of JSON.
pub fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The pointer as shown: the empty pointer is the whole resource, which was created or deleted.
fn path_label(path: &str) -> String {
    if path.is_empty() {
        "(whole resource)".to_owned()
    } else {
        path.to_owned()
    }
}

fn op_name(op: DiffOp) -> &'static str {
    match op {
        DiffOp::Added => "added",
        DiffOp::Removed => "removed",
        DiffOp::Changed => "changed",
    }
}

/// `route mock-route`, or `settings` for the one unnamed resource.
pub fn resource_label(kind: &str, name: &str) -> String {
    if name.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} {name}")
    }
}

/// The diffs of every resource one revision touched.
#[component]
pub fn ChangesDiff(changes: Vec<AuditChangeView>) -> impl IntoView {
    if changes.is_empty() {
        return view! { <p class="muted small">"This change has no document to compare (such as a password change)."</p> }
            .into_any();
    }
    changes
        .into_iter()
        .map(|change| {
            let title = resource_label(&change.kind, &change.name);
            let testid = format!("history-change-{}-{}", change.kind, change.name);
            let lines = change.diff;
            view! {
                <div class="jdiff-block" data-testid=testid>
                    <h4 class="jdiff-title">{title}</h4>
                    {if lines.is_empty() {
                        view! { <p class="muted small">"No difference in the recorded documents."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="jdiff">
                                {lines.into_iter().map(|line| view! { <DiffRow line=line /> }).collect_view()}
                            </ul>
                        }
                            .into_any()
                    }}
                </div>
            }
        })
        .collect_view()
        .into_any()
}

#[component]
fn DiffRow(line: DiffLine) -> impl IntoView {
    let op = op_name(line.op);
    view! {
        <li class=format!("jdiff-line jdiff-{op}") data-testid="diff-line" data-path=line.path.clone() data-op=op>
            <code class="jdiff-path">{path_label(&line.path)}</code>
            {line.before.map(|v| view! {
                <code class="jdiff-before" data-testid="diff-before">
                    <span aria-label="before">"− "</span>
                    {compact(&v)}
                </code>
            })}
            {line.after.map(|v| view! {
                <code class="jdiff-after" data-testid="diff-after">
                    <span aria-label="after">"+ "</span>
                    {compact(&v)}
                </code>
            })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_paths_read_in_one_line() {
        let value = serde_json::json!({"model": "gpt-4o", "weight": 100});
        assert_eq!(compact(&value), r#"{"model":"gpt-4o","weight":100}"#);
        assert_eq!(compact(&Value::String("sk-…k3Qz".into())), "\"sk-…k3Qz\"");
        assert_eq!(path_label(""), "(whole resource)");
        assert_eq!(path_label("/upstreams/mock/model"), "/upstreams/mock/model");
        assert_eq!(resource_label("settings", ""), "settings");
        assert_eq!(resource_label("route", "chat"), "route chat");
    }
}
