//! The Usage page's arithmetic, free of the browser: the time ranges and their slots, totals over
//! usage rows, the groups ranked, and the series a stacked chart draws.

use switchyard_shared::metering::UsageRow;

use crate::components::chart::stacked::Series;
use crate::time::unix_from_rfc3339;

/// The time ranges the page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Day,
    Week,
    Month,
}

impl Range {
    pub const ALL: [Range; 3] = [Range::Day, Range::Week, Range::Month];

    /// The test id suffix and the URL word: `24h`, `7d`, `30d`.
    pub fn id(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::Day => "24 h",
            Range::Week => "7 d",
            Range::Month => "30 d",
        }
    }

    /// The bucket the API is asked for.
    pub fn bucket(self) -> &'static str {
        match self {
            Range::Month => "day",
            _ => "hour",
        }
    }

    /// One bar of the charts, in seconds: an hour, six hours (hourly rows added up), a day.
    pub fn slot_secs(self) -> i64 {
        match self {
            Range::Day => 3_600,
            Range::Week => 6 * 3_600,
            Range::Month => 86_400,
        }
    }

    fn slot_count(self) -> i64 {
        match self {
            Range::Day => 24,
            Range::Week => 28,
            Range::Month => 30,
        }
    }

    /// The slots' starts (Unix seconds), oldest first, ending with the one that holds `now`. The
    /// first is the range's `since`, so every bucket the API returns falls in a slot.
    pub fn slots(self, now: i64) -> Vec<i64> {
        let secs = self.slot_secs();
        let last = now - now.rem_euclid(secs);
        (0..self.slot_count())
            .map(|i| last - (self.slot_count() - 1 - i) * secs)
            .collect()
    }
}

/// What the usage may be grouped by: `(API value, label)`.
pub const GROUPS: [(&str, &str); 5] = [
    ("consumer", "Consumer"),
    ("model", "Model"),
    ("route", "Route"),
    ("provider", "Provider"),
    ("key", "Key"),
];

/// Usage rows added up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub unpriced: u64,
    /// Requests answered from the response cache, and what those answers cost when stored.
    pub cache_hits: u64,
    pub cost_saved_usd: f64,
}

impl Totals {
    pub fn add(&mut self, row: &UsageRow) {
        self.requests += row.requests;
        self.errors += row.errors;
        self.prompt_tokens += row.prompt_tokens;
        self.completion_tokens += row.completion_tokens;
        self.cached_tokens += row.cached_tokens;
        self.reasoning_tokens += row.reasoning_tokens;
        self.cost_usd += row.cost_usd;
        self.unpriced += row.unpriced_requests;
        self.cache_hits += row.cache_hits;
        self.cost_saved_usd += row.cost_saved_usd;
    }

    /// Prompt and completion tokens (cached tokens are part of the prompt's, reasoning tokens
    /// part of the completion's).
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

pub fn totals(rows: &[UsageRow]) -> Totals {
    let mut totals = Totals::default();
    rows.iter().for_each(|row| totals.add(row));
    totals
}

/// A group's name as shown: a key's id reads `key 12`; a missing consumer is anonymous.
pub fn group_name(group_by: &str, group: Option<&str>) -> String {
    match (group_by, group) {
        ("key", Some(id)) => format!("key {id}"),
        (_, Some(name)) if !name.is_empty() => name.to_owned(),
        ("consumer" | "key", _) => "anonymous".to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// One group over the whole range.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTotal {
    pub name: String,
    pub totals: Totals,
}

/// The groups, most spend first (then most tokens, then most requests).
pub fn by_group(group_by: &str, rows: &[UsageRow]) -> Vec<GroupTotal> {
    let mut groups: Vec<GroupTotal> = Vec::new();
    for row in rows {
        let name = group_name(group_by, row.group.as_deref());
        match groups.iter_mut().find(|g| g.name == name) {
            Some(group) => group.totals.add(row),
            None => {
                let mut totals = Totals::default();
                totals.add(row);
                groups.push(GroupTotal { name, totals });
            }
        }
    }
    groups.sort_by(|a, b| {
        b.totals
            .cost_usd
            .total_cmp(&a.totals.cost_usd)
            .then(b.totals.tokens().cmp(&a.totals.tokens()))
            .then(b.totals.requests.cmp(&a.totals.requests))
            .then(a.name.cmp(&b.name))
    });
    groups
}

/// What a chart counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Spend,
    Tokens,
    Requests,
}

impl Metric {
    pub fn of(self, row: &UsageRow) -> f64 {
        match self {
            Metric::Spend => row.cost_usd,
            Metric::Tokens => (row.prompt_tokens + row.completion_tokens) as f64,
            Metric::Requests => row.requests as f64,
        }
    }
}

/// The groups the charts name: the first `top` of `ranked` (all of them when only one more
/// is left), so that every chart shows the same groups in the same colours.
pub fn chart_groups(ranked: &[GroupTotal], top: usize) -> Vec<String> {
    let keep = if ranked.len() <= top + 1 {
        ranked.len()
    } else {
        top
    };
    ranked[..keep].iter().map(|g| g.name.clone()).collect()
}

/// One series per named group for a stacked chart over `slots`, in the order given, and the
/// other groups added up as one more series when they have any value.
pub fn series(
    group_by: &str,
    rows: &[UsageRow],
    slots: &[i64],
    slot_secs: i64,
    metric: Metric,
    named: &[String],
) -> Vec<Series> {
    let first = slots.first().copied().unwrap_or(0);
    let mut values = vec![vec![0.0; slots.len()]; named.len() + 1];
    let mut others = Vec::new();
    for row in rows {
        let value = metric.of(row);
        let Some(at) = unix_from_rfc3339(&row.bucket) else {
            continue;
        };
        let index = (at - first).div_euclid(slot_secs);
        if value <= 0.0 || index < 0 || index as usize >= slots.len() {
            continue;
        }
        let name = group_name(group_by, row.group.as_deref());
        let position = named.iter().position(|n| *n == name).unwrap_or_else(|| {
            if !others.contains(&name) {
                others.push(name);
            }
            named.len()
        });
        values[position][index as usize] += value;
    }
    let rest = values.pop().unwrap_or_default();
    let mut series: Vec<Series> = named
        .iter()
        .zip(values)
        .map(|(name, values)| Series {
            name: name.clone(),
            values,
            other: false,
        })
        .collect();
    if !others.is_empty() {
        series.push(Series {
            name: if others.len() == 1 {
                "1 other".to_owned()
            } else {
                format!("{} others", others.len())
            },
            values: rest,
            other: true,
        });
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(bucket: &str, group: Option<&str>, requests: u64, cost: f64) -> UsageRow {
        UsageRow {
            bucket: bucket.into(),
            group: group.map(str::to_owned),
            requests,
            errors: requests / 2,
            prompt_tokens: 10 * requests,
            completion_tokens: requests,
            cost_usd: cost,
            ..UsageRow::default()
        }
    }

    #[test]
    fn slots_end_with_the_current_one() {
        let now = 1_796_551_200 + 1_234; // 2026-12-06T10:20:34Z
        let day = Range::Day.slots(now);
        assert_eq!(day.len(), 24);
        assert_eq!(day[23], 1_796_551_200);
        assert_eq!(day[0], 1_796_551_200 - 23 * 3_600);
        let month = Range::Month.slots(now);
        assert_eq!(month[29] % 86_400, 0);
        assert_eq!(Range::Week.slots(now).len(), 28);
    }

    #[test]
    fn totals_add_cache_savings() {
        let hit = |hits: u64, saved: f64| UsageRow {
            cache_hits: hits,
            cost_saved_usd: saved,
            ..row("b", None, hits, 0.0)
        };
        let t = totals(&[hit(2, 0.02), hit(3, 0.5)]);
        assert_eq!(t.cache_hits, 5);
        assert!((t.cost_saved_usd - 0.52).abs() < 1e-9);
    }

    #[test]
    fn totals_and_groups() {
        let rows = vec![
            row("2026-12-06T09:00:00Z", Some("a"), 4, 0.5),
            row("2026-12-06T10:00:00Z", Some("b"), 2, 1.0),
            row("2026-12-06T10:00:00Z", None, 1, 0.0),
            row("2026-12-06T10:00:00Z", Some("a"), 2, 0.25),
        ];
        let t = totals(&rows);
        assert_eq!(t.requests, 9);
        assert_eq!(t.tokens(), 99);
        assert!((t.cost_usd - 1.75).abs() < 1e-9);
        let groups = by_group("consumer", &rows);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "anonymous"]);
        assert_eq!(groups[1].totals.requests, 6);
        assert_eq!(group_name("key", Some("7")), "key 7");
        assert_eq!(group_name("model", None), "unknown");
    }

    #[test]
    fn series_name_the_top_groups_and_add_up_the_rest() {
        let slots = vec![1_796_551_200 - 3_600, 1_796_551_200]; // 09:00 and 10:00
        let rows = vec![
            row("2026-12-06T09:00:00Z", Some("a"), 4, 0.0),
            row("2026-12-06T10:00:00Z", Some("b"), 3, 0.0),
            row("2026-12-06T10:00:00Z", Some("c"), 2, 0.0),
            row("2026-12-06T10:00:00Z", Some("d"), 1, 0.0),
            row("2026-12-05T10:00:00Z", Some("e"), 9, 0.0),
        ];
        let ranked = by_group("model", &rows);
        let named = chart_groups(&ranked, 2);
        assert_eq!(named, ["e", "a"]);
        let series = series("model", &rows, &slots, 3_600, Metric::Requests, &named);
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        // `e` is outside the range: named, but empty.
        assert_eq!(names, ["e", "a", "3 others"]);
        assert_eq!(series[0].values, [0.0, 0.0]);
        assert_eq!(series[1].values, [4.0, 0.0]);
        assert_eq!(series[2].values, [0.0, 6.0]);
        assert!(series[2].other);
        // With one group left over it is named too.
        assert_eq!(chart_groups(&ranked[..3], 2).len(), 3);
    }
}
