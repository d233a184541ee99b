//! Model prices: the table shipped in `assets/pricing.json`, each provider's own `pricing`
//! overrides on top of it, and the cost of a request's usage in integer micro-dollars.
//!
//! Prices are kept as integer picodollars per token (USD per million tokens × 10⁶), so a cost is
//! an exact sum of integer products and is rounded once, to micro-dollars, at the end. Lookups run
//! once per request: exact names are one hash lookup, globs a scan of a list sorted longest first.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use switchyard_shared::consumer::glob_match;
use switchyard_shared::{
    ModelPrice, PriceEntry, PriceOverride, PricingOverrides, PricingView, ProviderType,
};

use crate::usage::Usage;

/// The shipped table's text, compiled into the binary so a price is never a file read away.
const SHIPPED_JSON: &str = include_str!("../../assets/pricing.json");

/// Picodollars in one micro-dollar.
const PICOS_PER_MICRO: u128 = 1_000_000;

/// A model's price in integer picodollars per token (one picodollar is 10⁻¹² USD), so that a
/// price such as $0.075 per million tokens is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_input: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: u64,
    /// Reasoning (thinking) tokens, which are part of the completion.
    pub reasoning: u64,
}

/// USD per million tokens as picodollars per token: ×10⁶, rounded to the nearest picodollar.
/// Validation keeps configured prices finite and within 0..=100000; anything else that reaches
/// here becomes 0 or saturates (`as` saturates, and turns NaN into 0) rather than failing.
fn picos_per_token(usd_per_mtok: f64) -> u64 {
    (usd_per_mtok * 1_000_000.0).round() as u64
}

impl From<&ModelPrice> for Price {
    fn from(price: &ModelPrice) -> Price {
        let input = picos_per_token(price.input_per_mtok);
        let output = picos_per_token(price.output_per_mtok);
        Price {
            input,
            output,
            cached_input: price.cached_input_per_mtok.map_or(input, picos_per_token),
            cache_write: price.cache_write_per_mtok.map_or(input, picos_per_token),
            reasoning: price.reasoning_per_mtok.map_or(output, picos_per_token),
        }
    }
}

/// Picodollars as micro-dollars, rounding half up, saturating at `i64::MAX`.
fn micros_from_picos(picos: u128) -> i64 {
    let micros = picos.saturating_add(PICOS_PER_MICRO / 2) / PICOS_PER_MICRO;
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// `tokens × rate` in picodollars; a product of two `u64`s always fits in a `u128`.
fn picos(tokens: u64, rate: u64) -> u128 {
    u128::from(tokens) * u128::from(rate)
}

impl Price {
    /// The cost of a request's usage in micro-dollars. Cached and cache-write tokens are part of
    /// `prompt_tokens` and reasoning tokens part of `completion_tokens`: each is priced at its own
    /// rate and the rest at the plain one. Counts that claim more cached or reasoning tokens than
    /// the total are clamped to it, so a request is never billed for more tokens than it used.
    pub fn cost_micros(&self, usage: &Usage) -> i64 {
        let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
        let cache_write = usage
            .cache_write_tokens
            .min(usage.prompt_tokens.saturating_sub(cached));
        let uncached = usage
            .prompt_tokens
            .saturating_sub(cached)
            .saturating_sub(cache_write);
        let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
        let plain_output = usage.completion_tokens.saturating_sub(reasoning);
        let total = picos(uncached, self.input)
            .saturating_add(picos(cached, self.cached_input))
            .saturating_add(picos(cache_write, self.cache_write))
            .saturating_add(picos(plain_output, self.output))
            .saturating_add(picos(reasoning, self.reasoning));
        micros_from_picos(total)
    }

    /// The most a request can cost before it runs, for budget reservations: every prompt token at
    /// the dearest prompt rate (a cache write costs more than plain input at Anthropic) and every
    /// completion token at the dearer of the output and reasoning rates. It is never below
    /// [`Price::cost_micros`] of a usage within those counts, because both round the same way.
    pub fn worst_case_micros(&self, prompt_tokens: u64, max_completion_tokens: u64) -> i64 {
        let prompt_rate = self.input.max(self.cached_input).max(self.cache_write);
        let completion_rate = self.output.max(self.reasoning);
        micros_from_picos(
            picos(prompt_tokens, prompt_rate)
                .saturating_add(picos(max_completion_tokens, completion_rate)),
        )
    }
}

/// A glob compiled for matching: most are `prefix*`, matched without the general matcher.
#[derive(Debug)]
enum Pattern {
    Prefix(Box<str>),
    Glob(Box<str>),
}

impl Pattern {
    fn new(glob: &str) -> Pattern {
        match glob.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => Pattern::Prefix(prefix.into()),
            _ => Pattern::Glob(glob.into()),
        }
    }

    fn matches(&self, model: &str) -> bool {
        match self {
            Pattern::Prefix(prefix) => model.starts_with(&**prefix),
            Pattern::Glob(glob) => glob_match(glob, model),
        }
    }
}

/// Prices by model: exact names hashed, globs by pattern length descending (the first match is
/// the longest, i.e. the most specific; equal lengths keep the order they were added in).
#[derive(Debug, Default)]
struct PriceIndex {
    exact: HashMap<Box<str>, Price>,
    /// The glob as written, compiled, and its price.
    globs: Vec<(Box<str>, Pattern, Price)>,
}

impl PriceIndex {
    /// Adds a price unless the same pattern is already in: the first one given wins.
    fn insert(&mut self, model: &str, price: Price) {
        if !model.contains('*') {
            self.exact.entry(model.into()).or_insert(price);
        } else if !self.globs.iter().any(|(glob, _, _)| **glob == *model) {
            self.globs.push((model.into(), Pattern::new(model), price));
        }
    }

    /// Sorts the globs once all are in; the sort is stable, so ties keep insertion order.
    fn finish(mut self) -> PriceIndex {
        self.globs
            .sort_by_key(|(glob, _, _)| std::cmp::Reverse(glob.len()));
        self
    }

    fn get(&self, model: &str) -> Option<&Price> {
        self.exact.get(model).or_else(|| {
            self.globs
                .iter()
                .find(|(_, pattern, _)| pattern.matches(model))
                .map(|(_, _, price)| price)
        })
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.globs.is_empty()
    }
}

/// `assets/pricing.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PricingFile {
    updated: String,
    source: String,
    models: Vec<PriceEntry>,
}

/// The shipped table: as written (for the admin view) and indexed per provider type.
#[derive(Debug, Default)]
struct Shipped {
    file: PricingFile,
    by_type: HashMap<ProviderType, PriceIndex>,
    /// Every entry of every type, for providers that may serve anyone's models.
    any: PriceIndex,
}

fn provider_type(name: &str) -> Option<ProviderType> {
    ProviderType::ALL.into_iter().find(|t| t.as_str() == name)
}

impl Shipped {
    fn parse(text: &str) -> Result<Shipped, String> {
        let file: PricingFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut by_type: HashMap<ProviderType, PriceIndex> = HashMap::new();
        let mut any = PriceIndex::default();
        for entry in &file.models {
            let price = Price::from(&entry.price);
            for name in &entry.provider_types {
                let kind =
                    provider_type(name).ok_or_else(|| format!("unknown provider type '{name}'"))?;
                by_type.entry(kind).or_default().insert(&entry.model, price);
            }
            any.insert(&entry.model, price);
        }
        Ok(Shipped {
            file,
            by_type: by_type
                .into_iter()
                .map(|(kind, index)| (kind, index.finish()))
                .collect(),
            any: any.finish(),
        })
    }

    /// The shipped table, parsed on first use. A broken file (which the unit tests catch before
    /// a release) leaves every model unpriced rather than stopping the gateway.
    fn get() -> &'static Shipped {
        static SHIPPED: LazyLock<Shipped> = LazyLock::new(|| {
            Shipped::parse(SHIPPED_JSON).unwrap_or_else(|error| {
                tracing::error!(%error, "the shipped price table does not parse; models are unpriced");
                Shipped::default()
            })
        });
        &SHIPPED
    }
}

/// Whether a provider type may serve any vendor's models, so the whole table applies to it: the
/// generic type, and aggregators that name models `vendor/model`.
fn serves_any_vendor(kind: ProviderType) -> bool {
    matches!(
        kind,
        ProviderType::OpenaiCompatible | ProviderType::Openrouter
    )
}

/// The prices of one provider's models: its own `pricing` overrides first, then the shipped
/// table's entries for its type. Built when the snapshot is compiled.
#[derive(Debug)]
pub struct ProviderPricing {
    kind: ProviderType,
    overrides: PriceIndex,
    /// The overrides as configured, for `GET /api/pricing`.
    configured: PricingOverrides,
    table: &'static Shipped,
}

impl ProviderPricing {
    pub fn new(kind: ProviderType, overrides: &PricingOverrides) -> ProviderPricing {
        ProviderPricing::with_table(kind, overrides, Shipped::get())
    }

    fn with_table(
        kind: ProviderType,
        overrides: &PricingOverrides,
        table: &'static Shipped,
    ) -> ProviderPricing {
        let mut index = PriceIndex::default();
        for (model, price) in overrides {
            index.insert(model, Price::from(price));
        }
        ProviderPricing {
            kind,
            overrides: index.finish(),
            configured: overrides.clone(),
            table,
        }
    }

    /// The price of `model` (the name sent upstream); `None` when nothing prices it. The
    /// provider's overrides win over the table, and within each an exact name over a glob and a
    /// longer glob over a shorter one. A provider that serves any vendor's models looks through
    /// the whole table, and for `vendor/model` names also tries the part after the last `/`.
    pub fn price(&self, model: &str) -> Option<&Price> {
        if let Some(price) = self.overrides.get(model) {
            return Some(price);
        }
        if !serves_any_vendor(self.kind) {
            return self.table.by_type.get(&self.kind)?.get(model);
        }
        self.table.any.get(model).or_else(|| {
            let (_, name) = model.rsplit_once('/')?;
            self.table.any.get(name)
        })
    }

    /// The provider's own prices as configured.
    pub fn overrides(&self) -> &PricingOverrides {
        &self.configured
    }

    /// Whether nothing at all can price this provider's models (no overrides, no table entries
    /// for its type), for a hint in the console.
    pub fn is_unpriced(&self) -> bool {
        self.overrides.is_empty()
            && if serves_any_vendor(self.kind) {
                self.table.any.is_empty()
            } else {
                self.table
                    .by_type
                    .get(&self.kind)
                    .is_none_or(PriceIndex::is_empty)
            }
    }
}

/// `GET /api/pricing`: the shipped table as written, and every provider's overrides (given as
/// provider name and pricing, in the order the caller lists them).
pub fn view<'a>(
    providers: impl IntoIterator<Item = (&'a str, &'a ProviderPricing)>,
) -> PricingView {
    let shipped = Shipped::get();
    let overrides = providers
        .into_iter()
        .flat_map(|(provider, pricing)| {
            pricing
                .overrides()
                .iter()
                .map(move |(model, price)| PriceOverride {
                    provider: provider.to_owned(),
                    model: model.clone(),
                    price: *price,
                })
        })
        .collect();
    PricingView {
        updated: shipped.file.updated.clone(),
        source: shipped.file.source.clone(),
        models: shipped.file.models.clone(),
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_price(input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            input_per_mtok: input,
            output_per_mtok: output,
            ..ModelPrice::default()
        }
    }

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            ..Usage::default()
        }
    }

    fn shipped() -> &'static Shipped {
        static TABLE: LazyLock<Shipped> =
            LazyLock::new(|| Shipped::parse(SHIPPED_JSON).expect("the shipped table parses"));
        &TABLE
    }

    fn pricing(kind: ProviderType, overrides: &[(&str, ModelPrice)]) -> ProviderPricing {
        let overrides: PricingOverrides = overrides
            .iter()
            .map(|(model, price)| ((*model).to_owned(), *price))
            .collect();
        ProviderPricing::with_table(kind, &overrides, shipped())
    }

    #[test]
    fn the_shipped_table_parses_and_is_sane() {
        let table = shipped();
        assert!(table.file.models.len() > 50);
        assert_eq!(table.file.updated.len(), 10, "updated is YYYY-MM-DD");
        assert!(table.file.source.contains("https://"));
        let mut seen = std::collections::HashSet::new();
        for entry in &table.file.models {
            let model = &entry.model;
            assert!(!model.trim().is_empty() && model.len() <= 200, "{model:?}");
            assert!(!model.chars().any(char::is_whitespace), "{model:?}");
            assert!(!entry.provider_types.is_empty(), "{model}");
            for name in &entry.provider_types {
                assert!(provider_type(name).is_some(), "{model}: type {name}");
                assert!(
                    seen.insert((model, name)),
                    "{model} is listed twice for {name}"
                );
            }
            let p = &entry.price;
            let prices = [
                Some(p.input_per_mtok),
                Some(p.output_per_mtok),
                p.cached_input_per_mtok,
                p.cache_write_per_mtok,
                p.reasoning_per_mtok,
            ];
            for value in prices.into_iter().flatten() {
                assert!(
                    value.is_finite() && (0.0..=100_000.0).contains(&value),
                    "{model}"
                );
            }
            if let Some(cached) = p.cached_input_per_mtok {
                assert!(cached <= p.input_per_mtok, "{model}: cache reads cost less");
            }
        }
    }

    /// Serde ignores unknown fields next to a flattened struct, so a misspelt price field would
    /// silently fall back to the default; this reads the raw JSON to catch one.
    #[test]
    fn the_shipped_table_has_no_unknown_fields() {
        let raw: serde_json::Value = serde_json::from_str(SHIPPED_JSON).expect("valid JSON");
        let known = [
            "model",
            "provider_types",
            "input_per_mtok",
            "output_per_mtok",
            "cached_input_per_mtok",
            "cache_write_per_mtok",
            "reasoning_per_mtok",
        ];
        let models = raw["models"].as_array().expect("a models array");
        for entry in models {
            let entry = entry.as_object().expect("an object");
            for key in entry.keys() {
                assert!(
                    known.contains(&key.as_str()),
                    "unknown field {key} in {entry:?}"
                );
            }
        }
    }

    #[test]
    fn every_hosted_type_has_prices() {
        let table = shipped();
        for kind in ProviderType::ALL {
            // Self-hosted servers cost what the operator's hardware costs: no list prices.
            if kind.group() == switchyard_shared::Group::SelfHosted {
                continue;
            }
            assert!(
                table.by_type.get(&kind).is_some_and(|i| !i.is_empty()),
                "{kind} has no prices"
            );
        }
    }

    #[test]
    fn a_broken_table_is_an_error_not_a_panic() {
        assert!(Shipped::parse("{").is_err());
        assert!(Shipped::parse(r#"{"updated":"","source":"","models":[{"model":"m","provider_types":["nope"],"input_per_mtok":1,"output_per_mtok":1}]}"#).is_err());
    }

    #[test]
    fn prices_become_picodollars_per_token() {
        let price = Price::from(&model_price(0.15, 0.6));
        assert_eq!(price.input, 150_000);
        assert_eq!(price.output, 600_000);
        assert_eq!(price.cached_input, 150_000, "defaults to input");
        assert_eq!(price.cache_write, 150_000, "defaults to input");
        assert_eq!(price.reasoning, 600_000, "defaults to output");
        let price = Price::from(&ModelPrice {
            cached_input_per_mtok: Some(0.075),
            cache_write_per_mtok: Some(0.1875),
            reasoning_per_mtok: Some(2.0),
            ..model_price(0.15, 0.6)
        });
        assert_eq!(
            (price.cached_input, price.cache_write, price.reasoning),
            (75_000, 187_500, 2_000_000)
        );
        assert_eq!(Price::from(&model_price(f64::NAN, -1.0)), Price::default());
    }

    #[test]
    fn cost_prices_each_kind_of_token_at_its_rate() {
        let price = Price {
            input: 3_000_000,
            output: 15_000_000,
            cached_input: 300_000,
            cache_write: 3_750_000,
            reasoning: 20_000_000,
        };
        // One million of each plain kind: $3 input, $15 output.
        assert_eq!(price.cost_micros(&usage(1_000_000, 1_000_000)), 18_000_000);
        let mixed = Usage {
            prompt_tokens: 1_000_000,
            cached_prompt_tokens: 400_000,
            cache_write_tokens: 100_000,
            completion_tokens: 1_000_000,
            reasoning_tokens: 250_000,
        };
        // 500k × $3 + 400k × $0.30 + 100k × $3.75 + 750k × $15 + 250k × $20.
        let expected = 1_500_000 + 120_000 + 375_000 + 11_250_000 + 5_000_000;
        assert_eq!(price.cost_micros(&mixed), expected);
        assert_eq!(price.cost_micros(&Usage::default()), 0);
    }

    #[test]
    fn inconsistent_counts_never_bill_more_than_the_totals() {
        let price = Price::from(&ModelPrice {
            cached_input_per_mtok: Some(0.5),
            ..model_price(1.0, 2.0)
        });
        let claimed = Usage {
            prompt_tokens: 100,
            cached_prompt_tokens: 1_000,
            cache_write_tokens: 1_000,
            completion_tokens: 10,
            reasoning_tokens: 1_000,
        };
        // Only the 100 prompt tokens are billed, all as cached ($0.5/M: 50 µUSD), and the 10
        // completion tokens, all as reasoning ($2/M: 20 µUSD).
        assert_eq!(price.cost_micros(&claimed), 70);
        let big = Usage {
            prompt_tokens: 2_000_000,
            cached_prompt_tokens: 3_000_000,
            ..Usage::default()
        };
        assert_eq!(
            price.cost_micros(&big),
            1_000_000,
            "2M cached tokens at $0.5/M"
        );
    }

    #[test]
    fn cost_rounds_half_up_to_micro_dollars() {
        // $1 per million tokens is one micro-dollar per token; $0.5/M is half of one.
        let half = Price::from(&model_price(0.5, 0.5));
        assert_eq!(half.cost_micros(&usage(1, 0)), 1, "0.5 µUSD rounds up");
        assert_eq!(half.cost_micros(&usage(3, 0)), 2, "1.5 µUSD rounds up");
        let less = Price::from(&model_price(0.499_999, 0.0));
        assert_eq!(
            less.cost_micros(&usage(1, 0)),
            0,
            "0.499999 µUSD rounds down"
        );
        // $0.15/M × 7 tokens = 1.05 µUSD.
        let mini = Price::from(&model_price(0.15, 0.6));
        assert_eq!(mini.cost_micros(&usage(7, 0)), 1);
    }

    #[test]
    fn cost_saturates_at_the_largest_counts() {
        let dear = Price::from(&model_price(100_000.0, 100_000.0));
        let all = Usage {
            prompt_tokens: u64::MAX,
            completion_tokens: u64::MAX,
            cached_prompt_tokens: u64::MAX,
            reasoning_tokens: u64::MAX,
            cache_write_tokens: u64::MAX,
        };
        assert_eq!(dear.cost_micros(&all), i64::MAX);
        assert_eq!(dear.cost_micros(&usage(u64::MAX, u64::MAX)), i64::MAX);
        assert_eq!(dear.worst_case_micros(u64::MAX, u64::MAX), i64::MAX);
        let extreme = Price {
            input: u64::MAX,
            output: u64::MAX,
            cached_input: u64::MAX,
            cache_write: u64::MAX,
            reasoning: u64::MAX,
        };
        assert_eq!(extreme.cost_micros(&all), i64::MAX, "no u128 overflow");
        // A cheap model stays exact far beyond any real count.
        let cheap = Price::from(&model_price(1.0, 0.0));
        assert_eq!(
            cheap.cost_micros(&usage(u64::MAX / 2, 0)),
            i64::try_from(u64::MAX / 2).expect("fits")
        );
    }

    #[test]
    fn the_worst_case_covers_any_usage_within_it() {
        let price = Price::from(&ModelPrice {
            cached_input_per_mtok: Some(0.3),
            cache_write_per_mtok: Some(3.75),
            reasoning_per_mtok: Some(20.0),
            ..model_price(3.0, 15.0)
        });
        assert_eq!(
            price.worst_case_micros(1_000_000, 1_000_000),
            3_750_000 + 20_000_000
        );
        let all_writes = Usage {
            prompt_tokens: 1_000,
            cache_write_tokens: 1_000,
            completion_tokens: 500,
            reasoning_tokens: 500,
            ..Usage::default()
        };
        assert!(price.worst_case_micros(1_000, 500) >= price.cost_micros(&all_writes));
        assert_eq!(
            Price::from(&model_price(2.5, 10.0)).worst_case_micros(0, 0),
            0
        );
    }

    #[test]
    fn overrides_beat_the_table() {
        let mine = model_price(9.0, 9.0);
        let p = pricing(ProviderType::Openai, &[("gpt-4o-mini", mine)]);
        assert_eq!(p.price("gpt-4o-mini"), Some(&Price::from(&mine)));
        // Other models still come from the table.
        assert_eq!(
            p.price("gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(150_000)
        );
        // A glob override beats even an exact table entry.
        let p = pricing(ProviderType::Deepseek, &[("deepseek-*", mine)]);
        assert_eq!(p.price("deepseek-chat"), Some(&Price::from(&mine)));
        // Overrides add models the table does not know.
        let p = pricing(ProviderType::Ollama, &[("*", model_price(0.0, 0.0))]);
        assert_eq!(p.price("llama3.1:8b"), Some(&Price::default()));
    }

    #[test]
    fn exact_names_then_the_longest_glob_win() {
        let p = pricing(
            ProviderType::Openai,
            &[
                ("my-*", model_price(1.0, 1.0)),
                ("my-model-*", model_price(2.0, 2.0)),
                ("*-large", model_price(3.0, 3.0)),
                ("my-model-x", model_price(4.0, 4.0)),
            ],
        );
        let input = |model: &str| p.price(model).map(|p| p.input);
        assert_eq!(input("my-other"), Some(1_000_000));
        assert_eq!(input("my-model-y"), Some(2_000_000));
        assert_eq!(input("my-model-large"), Some(2_000_000), "10 chars beat 7");
        assert_eq!(input("big-large"), Some(3_000_000));
        assert_eq!(input("my-model-x"), Some(4_000_000), "exact beats any glob");
        // The table's own families: mini under 4o, o3-mini under o3.
        assert_eq!(input("gpt-4o-2024-08-06"), Some(2_500_000));
        assert_eq!(input("gpt-4o-mini"), Some(150_000));
        assert_eq!(input("gpt-4o-2024-05-13"), Some(5_000_000));
        assert_eq!(input("o3-mini-2025-01-31"), Some(1_100_000));
        assert_eq!(input("o3"), Some(2_000_000));
    }

    #[test]
    fn the_table_applies_to_its_provider_types_only() {
        let anthropic = pricing(ProviderType::Anthropic, &[]);
        let sonnet = anthropic
            .price("claude-sonnet-4-5-20250929")
            .expect("priced");
        assert_eq!(
            (
                sonnet.input,
                sonnet.cached_input,
                sonnet.cache_write,
                sonnet.output
            ),
            (3_000_000, 300_000, 3_750_000, 15_000_000)
        );
        assert_eq!(
            anthropic.price("claude-opus-4-5").map(|p| p.input),
            Some(5_000_000)
        );
        assert_eq!(
            anthropic.price("claude-opus-4-1-20250805").map(|p| p.input),
            Some(15_000_000)
        );
        assert_eq!(anthropic.price("gpt-4o"), None, "an OpenAI model");
        let azure = pricing(ProviderType::Azure, &[]);
        assert!(azure.price("gpt-4.1-mini").is_some());
        let deepseek = pricing(ProviderType::Deepseek, &[]);
        assert_eq!(
            deepseek.price("deepseek-chat").map(|p| p.cached_input),
            Some(28_000)
        );
        assert!(pricing(ProviderType::Vllm, &[]).price("gpt-4o").is_none());
    }

    #[test]
    fn generic_providers_use_the_whole_table() {
        let generic = pricing(ProviderType::OpenaiCompatible, &[]);
        assert_eq!(generic.price("gpt-4o").map(|p| p.input), Some(2_500_000));
        assert!(generic.price("claude-3-5-haiku-latest").is_some());
        let router = pricing(ProviderType::Openrouter, &[]);
        assert_eq!(
            router.price("openai/gpt-4o-mini").map(|p| p.input),
            Some(150_000)
        );
        assert_eq!(
            router.price("anthropic/claude-opus-4.5").map(|p| p.input),
            Some(5_000_000)
        );
        assert_eq!(
            router.price("anthropic/claude-opus-4.1").map(|p| p.input),
            Some(15_000_000)
        );
        assert_eq!(
            router.price("google/gemini-2.5-flash").map(|p| p.output),
            Some(2_500_000)
        );
    }

    #[test]
    fn unknown_models_have_no_price() {
        for kind in ProviderType::ALL {
            let p = pricing(kind, &[]);
            assert_eq!(p.price("no-such-model-anywhere"), None, "{kind}");
            assert_eq!(p.price(""), None, "{kind}");
        }
        assert!(pricing(ProviderType::Ollama, &[]).is_unpriced());
        assert!(!pricing(ProviderType::Openai, &[]).is_unpriced());
    }

    #[test]
    fn the_view_lists_the_table_and_each_providers_overrides() {
        let a = pricing(ProviderType::Openai, &[("my-*", model_price(0.5, 1.5))]);
        let b = pricing(ProviderType::Anthropic, &[]);
        let shown = view([("a", &a), ("b", &b)]);
        assert_eq!(shown.updated, shipped().file.updated);
        assert_eq!(shown.models.len(), shipped().file.models.len());
        assert_eq!(
            shown.overrides,
            vec![PriceOverride {
                provider: "a".into(),
                model: "my-*".into(),
                price: model_price(0.5, 1.5),
            }]
        );
    }
}
