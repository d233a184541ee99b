//! Charts drawn by the console as inline SVG: the dashboard's requests-per-minute chart (stacked
//! bars of successes and errors over the last hour, with a tooltip per minute) and, in `stacked`,
//! the Usage page's bars stacked by group. Both share one drawing area.

use leptos::prelude::*;

use crate::api::types::MinuteBucket;
use crate::util::{fmt_clock, fmt_int};

pub mod stacked;

/// One bar: the minute's start (Unix seconds), its requests and its errors.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub minute: i64,
    pub requests: u64,
    pub errors: u64,
}

/// `count` consecutive minutes ending with the one that holds `end` (Unix seconds), filled from
/// the buckets; minutes without traffic are zero, because the server may leave them out.
pub fn minute_slots(buckets: &[MinuteBucket], end: i64, count: usize) -> Vec<Slot> {
    let last = end - end.rem_euclid(60);
    let first = last - 60 * (count as i64 - 1);
    (0..count as i64)
        .map(|i| {
            let minute = first + 60 * i;
            let (requests, errors) = buckets
                .iter()
                .filter(|b| b.minute as i64 - (b.minute as i64).rem_euclid(60) == minute)
                .fold((0, 0), |(r, e), b| (r + b.requests, e + b.errors));
            Slot {
                minute,
                requests,
                errors,
            }
        })
        .collect()
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 150.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 20.0;

#[component]
pub fn RequestsChart(slots: Vec<Slot>) -> impl IntoView {
    let peak = slots.iter().map(|s| s.requests).max().unwrap_or(0);
    let total: u64 = slots.iter().map(|s| s.requests).sum();
    let scale = if peak == 0 {
        0.0
    } else {
        (HEIGHT - TOP - BOTTOM) / peak as f64
    };
    let step = WIDTH / slots.len().max(1) as f64;
    let bar = (step * 0.72).max(1.0);
    let base = HEIGHT - BOTTOM;
    let label = format!(
        "Requests per minute over the last {} minutes: {} in total, peak {} per minute.",
        slots.len(),
        fmt_int(total),
        fmt_int(peak)
    );
    let first_label = slots
        .first()
        .map(|s| fmt_clock(s.minute))
        .unwrap_or_default();
    let last_label = slots
        .last()
        .map(|s| fmt_clock(s.minute))
        .unwrap_or_default();
    let bars = slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| {
            let x = i as f64 * step + (step - bar) / 2.0;
            let ok = slot.requests.saturating_sub(slot.errors);
            let ok_height = ok as f64 * scale;
            let error_height = slot.errors.min(slot.requests) as f64 * scale;
            let tip = format!(
                "{} — {} requests, {} errors",
                fmt_clock(slot.minute),
                fmt_int(slot.requests),
                fmt_int(slot.errors)
            );
            view! {
                <g class="chart-bar">
                    <title>{tip}</title>
                    // An invisible full-height column makes every minute hoverable, even an empty one.
                    <rect class="chart-hit" x=i as f64 * step y=TOP width=step height=base - TOP></rect>
                    <rect
                        class="chart-ok"
                        x=x
                        y=base - ok_height - error_height
                        width=bar
                        height=ok_height
                    ></rect>
                    <rect class="chart-err" x=x y=base - error_height width=bar height=error_height></rect>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            class="chart"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=label
        >
            <line class="chart-axis" x1="0" y1=base x2=WIDTH y2=base></line>
            <line class="chart-grid" x1="0" y1=TOP x2=WIDTH y2=TOP></line>
            <text class="chart-label" x="2" y=TOP - 3.0>
                {format!("{} / min", fmt_int(peak))}
            </text>
            {bars}
            <text class="chart-label" x="2" y=HEIGHT - 4.0>
                {first_label}
            </text>
            <text class="chart-label" x=WIDTH - 2.0 y=HEIGHT - 4.0 text-anchor="end">
                {last_label}
            </text>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_missing_minutes() {
        let buckets = vec![
            MinuteBucket {
                minute: 600,
                requests: 5,
                errors: 1,
                ..MinuteBucket::default()
            },
            MinuteBucket {
                minute: 720,
                requests: 2,
                ..MinuteBucket::default()
            },
        ];
        let slots = minute_slots(&buckets, 725, 4);
        assert_eq!(
            slots.iter().map(|s| s.minute).collect::<Vec<_>>(),
            vec![540, 600, 660, 720]
        );
        assert_eq!(
            slots.iter().map(|s| s.requests).collect::<Vec<_>>(),
            vec![0, 5, 0, 2]
        );
        assert_eq!(slots[1].errors, 1);
    }
}
