//! Request, token and concurrency limits as form inputs and as one line of text. The same fields
//! serve a consumer, a key and a route; empty means unlimited.

use leptos::prelude::*;
use switchyard_shared::Limits;

use crate::components::field::TextField;
use crate::form::{Parse, opt_text};
use crate::util::fmt_int;

/// The limit fields: `(field, label, short unit for summaries)`.
const FIELDS: [(&str, &str, &str); 5] = [
    ("rpm", "Requests per minute", "rpm"),
    ("rpd", "Requests per day", "rpd"),
    ("tpm", "Tokens per minute", "tpm"),
    ("tpd", "Tokens per day", "tpd"),
    ("max_concurrent", "Concurrent requests", "concurrent"),
];

fn values(limits: &Limits) -> [Option<u64>; 5] {
    [
        limits.rpm,
        limits.rpd,
        limits.tpm,
        limits.tpd,
        limits.max_concurrent,
    ]
}

/// The five inputs, as typed.
#[derive(Clone, Copy)]
pub struct LimitsInputs {
    texts: [RwSignal<String>; 5],
}

impl LimitsInputs {
    pub fn new(limits: &Limits) -> Self {
        LimitsInputs {
            texts: values(limits).map(|v| RwSignal::new(opt_text(v))),
        }
    }

    /// The limits typed; unreadable numbers are reported as `<prefix>.rpm` and so on.
    pub fn build(&self, parse: &mut Parse, prefix: &str) -> Limits {
        let [rpm, rpd, tpm, tpd, max_concurrent] = std::array::from_fn(|i| {
            let field = format!("{prefix}.{}", FIELDS[i].0);
            parse.opt_u64(&field, &self.texts[i].get_untracked())
        });
        Limits {
            rpm,
            rpd,
            tpm,
            tpd,
            max_concurrent,
        }
    }
}

/// The limits as one line, such as `60 rpm · 100,000 tpm · 4 concurrent`; empty when unset.
pub fn limits_summary(limits: &Limits) -> String {
    values(limits)
        .iter()
        .zip(FIELDS)
        .filter_map(|(value, (_, _, unit))| value.map(|v| format!("{} {unit}", fmt_int(v))))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The five fields; errors show under each by the path `<prefix>.<field>`, and test ids are
/// `<id_prefix>-<field>`.
#[component]
pub fn LimitsFields(
    inputs: LimitsInputs,
    /// The field path of the limits, such as `limits`.
    prefix: &'static str,
    /// The start of every element id and test id, such as `consumer-limits`.
    id_prefix: &'static str,
) -> impl IntoView {
    let fields = FIELDS
        .iter()
        .zip(inputs.texts)
        .map(|((field, label, _), value)| {
            let id = format!("{id_prefix}-{field}");
            view! {
                <TextField
                    label=*label
                    id=id.clone()
                    value=value
                    testid=id
                    path=format!("{prefix}.{field}")
                    numeric=true
                    placeholder="unlimited"
                />
            }
        })
        .collect_view();
    view! { <div class="grid-limits">{fields}</div> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_the_limits_set() {
        assert_eq!(limits_summary(&Limits::default()), "");
        let limits = Limits {
            rpm: Some(60),
            tpm: Some(100_000),
            max_concurrent: Some(4),
            ..Limits::default()
        };
        assert_eq!(
            limits_summary(&limits),
            "60 rpm · 100,000 tpm · 4 concurrent"
        );
    }

    #[test]
    fn inputs_round_trip_and_report_bad_numbers() {
        let limits = Limits {
            rpd: Some(1000),
            tpd: Some(5),
            ..Limits::default()
        };
        let inputs = LimitsInputs::new(&limits);
        let mut parse = Parse::default();
        assert_eq!(inputs.build(&mut parse, "limits"), limits);
        inputs.texts[0].set("many".into());
        assert_eq!(inputs.build(&mut parse, "keys.limits").rpm, None);
        assert_eq!(parse.errors[0].field, "keys.limits.rpm");
    }
}
