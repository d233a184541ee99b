//! A stacked bar chart over time: one bar per time slot, one coloured segment per group (the top
//! groups and "other"), drawn as inline SVG like the dashboard's chart, with a tooltip per slot.

use leptos::prelude::*;

use super::{BOTTOM, HEIGHT, TOP, WIDTH};

/// One group's values, one per slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
    /// The sum of the groups beyond the top ones, drawn in a neutral colour.
    pub other: bool,
}

/// The colour class of the series at `index`: a palette of six, then grey for "other".
pub fn series_class(index: usize, other: bool) -> String {
    if other {
        "chart-other".to_owned()
    } else {
        format!("chart-s{}", index % 6)
    }
}

/// Stacked bars over `slots` (each a Unix time in seconds).
#[component]
pub fn StackedChart(
    slots: Vec<i64>,
    series: Vec<Series>,
    /// Formats a value for the axis and the tooltips.
    fmt: fn(f64) -> String,
    /// Formats a slot's start for the axis and the tooltips.
    slot_label: fn(i64) -> String,
    /// What is counted, for the chart's accessible name (`Spend`).
    what: &'static str,
    #[prop(into)] testid: String,
) -> impl IntoView {
    let totals: Vec<f64> = (0..slots.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let peak = totals.iter().copied().fold(0.0_f64, f64::max);
    let sum: f64 = totals.iter().sum();
    let scale = if peak > 0.0 {
        (HEIGHT - TOP - BOTTOM) / peak
    } else {
        0.0
    };
    let step = WIDTH / slots.len().max(1) as f64;
    let bar = (step * 0.72).max(1.0);
    let base = HEIGHT - BOTTOM;
    let label = format!(
        "{what} over {} periods: {} in total, at most {} in one.",
        slots.len(),
        fmt(sum),
        fmt(peak)
    );
    let first_label = slots.first().map(|s| slot_label(*s)).unwrap_or_default();
    let last_label = slots.last().map(|s| slot_label(*s)).unwrap_or_default();
    let bars = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let x = i as f64 * step + (step - bar) / 2.0;
            let mut top = base;
            let mut parts = Vec::new();
            let segments = series
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let value = s.values.get(i).copied().unwrap_or(0.0);
                    if value <= 0.0 {
                        return None;
                    }
                    parts.push(format!("{} {}", s.name, fmt(value)));
                    let height = value * scale;
                    top -= height;
                    Some(view! {
                        <rect class=series_class(k, s.other) x=x y=top width=bar height=height></rect>
                    })
                })
                .collect_view();
            let mut tip = format!("{} — {}", slot_label(*slot), fmt(totals[i]));
            if !parts.is_empty() {
                tip.push_str(": ");
                tip.push_str(&parts.join(", "));
            }
            view! {
                <g class="chart-bar">
                    <title>{tip}</title>
                    // An invisible full-height column makes every slot hoverable, even an empty one.
                    <rect class="chart-hit" x=i as f64 * step y=TOP width=step height=base - TOP></rect>
                    {segments}
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
            data-testid=testid
            data-total=sum.to_string()
        >
            <line class="chart-axis" x1="0" y1=base x2=WIDTH y2=base></line>
            <line class="chart-grid" x1="0" y1=TOP x2=WIDTH y2=TOP></line>
            <text class="chart-label" x="2" y=TOP - 3.0>
                {fmt(peak)}
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

/// The colour key of a stacked chart.
#[component]
pub fn SeriesLegend(series: Vec<Series>) -> impl IntoView {
    view! {
        <ul class="legend legend-series" aria-label="Groups">
            {series
                .into_iter()
                .enumerate()
                .map(|(k, s)| {
                    view! {
                        <li>
                            <svg class="swatch" width="10" height="10" aria-hidden="true">
                                <rect class=series_class(k, s.other) width="10" height="10" rx="2"></rect>
                            </svg>
                            {s.name}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_colours_cycle_and_other_is_grey() {
        assert_eq!(series_class(0, false), "chart-s0");
        assert_eq!(series_class(7, false), "chart-s1");
        assert_eq!(series_class(2, true), "chart-other");
    }
}
