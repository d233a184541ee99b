//! Unit tests of the estimates: the update rule, the packing, the stamps' wrapping, exploration
//! claims, concurrent updates and what a [`Flight`] feeds when it lands.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::routing::choose::EXPLORE_AFTER_MS;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn close(actual: f32, expected: f32) -> bool {
    (actual - expected).abs() < 1e-3
}

fn usage(prompt: u64, completion: u64, cached: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_prompt_tokens: cached,
        ..Usage::default()
    }
}

fn landing(usage: Option<&Usage>) -> Landing<'_> {
    Landing {
        complete: true,
        usage,
        sent_len: 0,
    }
}

#[test]
fn an_unmeasured_estimate_takes_the_first_sample() {
    assert_eq!(peak_ewma(f32::NAN, 42.0, 0), 42.0);
    assert_eq!(peak_ewma(f32::NAN, 42.0, 100_000), 42.0);
    assert_eq!(ewma(f32::NAN, 7.0), 7.0);
}

#[test]
fn a_slower_sample_moves_half_way_and_a_faster_one_a_fifth_at_once() {
    assert!(close(peak_ewma(100.0, 200.0, 0), 150.0));
    assert!(close(peak_ewma(100.0, 0.0, 0), 80.0));
    // The plain EWMA of the answer's shape moves a fifth either way.
    assert!(close(ewma(100.0, 200.0), 120.0));
    assert!(close(ewma(100.0, 0.0), 80.0));
}

#[test]
fn after_thirty_seconds_a_sample_replaces_at_least_95_percent() {
    for (estimate, sample) in [(100.0, 1000.0), (1000.0, 100.0)] {
        let next = peak_ewma(estimate, sample, 30_000);
        let moved = (next - estimate) / (sample - estimate);
        assert!(moved >= 0.95, "{estimate} → {sample}: moved {moved}");
    }
}

#[test]
fn the_result_lies_between_the_estimate_and_the_sample() {
    let mut rng = fastrand::Rng::with_seed(15);
    for _ in 0..10_000 {
        let estimate = rng.f32() * 10_000.0;
        let sample = rng.f32() * 10_000.0;
        let dt = rng.u32(..);
        let (low, high) = (estimate.min(sample), estimate.max(sample));
        for next in [peak_ewma(estimate, sample, dt), ewma(estimate, sample)] {
            assert!(
                (low..=high).contains(&next),
                "{estimate} → {sample} after {dt} ms gave {next}"
            );
        }
    }
}

#[test]
fn packing_round_trips_values_stamps_and_nan() {
    for (value, stamp) in [
        (0.0, 0),
        (1.5, 1),
        (-3.25, u32::MAX),
        (f32::MAX, 123_456),
        (f32::MIN_POSITIVE, 7),
    ] {
        assert_eq!(unpack(pack(value, stamp)), (value, stamp));
    }
    let (value, stamp) = unpack(pack(f32::NAN, 99));
    assert!(value.is_nan());
    assert_eq!(stamp, 99);
    let (first, second) = unpack_pair(pack_pair(12.5, f32::NAN));
    assert_eq!(first, 12.5);
    assert!(second.is_nan());
}

#[test]
fn a_fresh_estimate_is_unmeasured_not_zero() {
    let estimate = UpstreamStats::default().read(1_000);
    assert_eq!(estimate.ttft_ms, None);
    assert_eq!(estimate.ms_per_token, None);
    assert_eq!(estimate.output_tokens, None);
    assert_eq!(estimate.age_ms, None);
    assert_eq!(estimate.claim_age_ms, None);
    assert_eq!(estimate.samples, 0);
    assert_eq!(estimate.in_flight, 0);
}

#[test]
fn a_stamp_far_ahead_of_the_clock_reads_as_stale_and_is_replaced() {
    let stats = UpstreamStats::default();
    stats.observe_ttft(100.0, 200_000);
    // The clock was stepped back two minutes: the wrapping difference is huge, so the estimate is
    // due and the next sample replaces it instead of moving it a fifth of the way (to 82).
    let estimate = stats.read(80_000);
    assert!(estimate.age_ms.is_some_and(|age| age >= EXPLORE_AFTER_MS));
    stats.observe_ttft(10.0, 80_000);
    let ttft = stats.read(80_000).ttft_ms.unwrap_or(f32::NAN);
    assert!(close(ttft, 10.0), "{ttft}");
}

#[test]
fn a_stamp_a_moment_ahead_is_a_race_and_blends() {
    let stats = UpstreamStats::default();
    stats.observe_ttft(100.0, 10_000);
    // Another request's sample landed first with a newer stamp than this one read: no age, so
    // the estimate is fresh and a faster sample moves it a fifth of the way, not all of it.
    assert_eq!(stats.read(9_999).age_ms, Some(0));
    stats.observe_ttft(10.0, 9_999);
    let ttft = stats.read(10_000).ttft_ms.unwrap_or(f32::NAN);
    assert!(close(ttft, 82.0), "{ttft}");
    // Nor is exploration claimable again by a request holding an older stamp.
    assert!(stats.claim_exploration(10_000));
    assert!(!stats.claim_exploration(9_000));
}

#[test]
fn stamps_wrap_around_the_u32_range() {
    let stats = UpstreamStats::default();
    stats.observe_ttft(100.0, u32::MAX - 10);
    assert_eq!(stats.read(5).age_ms, Some(16));
    // Sixteen milliseconds later a faster sample moves the estimate only about a fifth of the way.
    stats.observe_ttft(0.0, 5);
    let ttft = stats.read(5).ttft_ms.unwrap_or(f32::NAN);
    assert!((79.0..81.0).contains(&ttft), "{ttft}");
}

#[test]
fn exploration_is_claimed_once_per_interval() {
    let stats = UpstreamStats::default();
    assert!(stats.claim_exploration(0), "never claimed: claimable");
    assert!(!stats.claim_exploration(0), "claimed just now");
    assert!(!stats.claim_exploration(EXPLORE_AFTER_MS - 2));
    assert!(stats.claim_exploration(EXPLORE_AFTER_MS));
    assert_eq!(stats.read(EXPLORE_AFTER_MS + 100).claim_age_ms, Some(100));
    assert!(!stats.claim_exploration(EXPLORE_AFTER_MS + 100));
    assert!(stats.claim_exploration(3 * EXPLORE_AFTER_MS));
}

#[test]
fn concurrent_claims_grant_one() {
    let stats = Arc::new(UpstreamStats::default());
    let granted: u32 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| u32::from(stats.claim_exploration(1_000))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a claiming thread does not panic"))
            .sum()
    });
    assert_eq!(granted, 1);
}

#[test]
fn concurrent_samples_keep_the_estimate_in_their_range() {
    let stats = UpstreamStats::default();
    std::thread::scope(|scope| {
        for seed in 0..8u64 {
            let stats = &stats;
            scope.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(seed);
                for i in 0..10_000u32 {
                    let sample = 100.0 + rng.f32() * 100.0;
                    stats.observe_ttft(sample, i);
                    let seen = stats.read(i).ttft_ms.unwrap_or(f32::NAN);
                    assert!((100.0..=200.0).contains(&seen), "{seen}");
                }
            });
        }
    });
    let estimate = stats.read(10_000);
    let ttft = estimate.ttft_ms.unwrap_or(f32::NAN);
    assert!((100.0..=200.0).contains(&ttft), "{ttft}");
    assert_eq!(estimate.samples, 80_000);
}

#[test]
fn a_timeout_floor_raises_the_estimate_but_never_lowers_it() {
    let stats = UpstreamStats::default();
    stats.observe_ttft_floor(300.0, 0);
    assert_eq!(
        stats.read(0).ttft_ms,
        Some(300.0),
        "unmeasured: the floor is all we know"
    );
    stats.observe_ttft(100.0, 0);
    let lowered = stats.read(0).ttft_ms.unwrap_or(f32::NAN);
    assert!(close(lowered, 260.0), "{lowered}");
    stats.observe_ttft_floor(50.0, 0);
    assert_eq!(stats.read(0).ttft_ms, Some(lowered));
    stats.observe_ttft_floor(460.0, 0);
    let raised = stats.read(0).ttft_ms.unwrap_or(f32::NAN);
    assert!(close(raised, 360.0), "{raised}");
}

#[test]
fn samples_that_are_not_numbers_are_ignored() {
    let stats = UpstreamStats::default();
    stats.observe_ttft(100.0, 0);
    stats.observe_ttft(f32::NAN, 0);
    stats.observe_ttft_floor(f32::NAN, 0);
    stats.observe_decode(f32::NAN, 0);
    stats.observe_shape(f32::NAN, f32::NAN);
    let estimate = stats.read(0);
    assert_eq!(estimate.ttft_ms, Some(100.0));
    assert_eq!(estimate.samples, 1);
    assert_eq!(estimate.ms_per_token, None);
    assert_eq!(estimate.output_tokens, None);
}

#[test]
fn a_flight_counts_in_flight_until_it_ends_however_it_ends() {
    let stats = Arc::new(UpstreamStats::default());
    let now = Instant::now();
    let dropped = stats.start(now, true, true);
    let failed = stats.start(now, true, true);
    let mut landed = stats.start(now, true, true);
    assert_eq!(stats.read(0).in_flight, 3);
    drop(dropped);
    assert_eq!(stats.read(0).in_flight, 2);
    failed.failed(false, now + ms(10), 0);
    assert_eq!(stats.read(0).in_flight, 1);
    landed.answered(now + ms(10), true, 0);
    assert_eq!(
        stats.read(0).in_flight,
        1,
        "answering keeps the body in flight"
    );
    landed.land(now + ms(20), &landing(None), 0);
    assert_eq!(stats.read(0).in_flight, 0);
}

#[test]
fn a_stream_gives_its_ttft_when_answered_and_its_decode_when_it_ends() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let mut flight = stats.start(sent, true, true);
    flight.answered(sent + ms(120), true, 0);
    let ttft = stats.read(0).ttft_ms.unwrap_or(f32::NAN);
    assert!((119.0..121.0).contains(&ttft), "{ttft}");
    let used = usage(10, 8, 5);
    flight.land(sent + ms(120 + 8 * 25), &landing(Some(&used)), 0);
    let estimate = stats.read(0);
    let per_token = estimate.ms_per_token.unwrap_or(f32::NAN);
    assert!((24.9..25.1).contains(&per_token), "{per_token}");
    assert_eq!(estimate.output_tokens, Some(8.0));
    assert_eq!(estimate.cached_share, 0.5);
    assert_eq!(
        estimate.samples, 1,
        "the landing of a stream adds no TTFT sample"
    );
}

#[test]
fn a_stream_shorter_than_eight_tokens_gives_no_decode_sample() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let mut flight = stats.start(sent, true, true);
    flight.answered(sent + ms(10), true, 0);
    let used = usage(10, 7, 0);
    flight.land(sent + ms(80), &landing(Some(&used)), 0);
    let estimate = stats.read(0);
    assert_eq!(estimate.ms_per_token, None);
    assert_eq!(
        estimate.output_tokens,
        Some(7.0),
        "the shape is still measured"
    );
    // Nor does a stream without usage (a server that ignores include_usage).
    let mut flight = stats.start(sent, true, true);
    flight.answered(sent + ms(10), true, 0);
    flight.land(sent + ms(500), &landing(None), 0);
    assert_eq!(stats.read(0).ms_per_token, None);
}

#[test]
fn a_plain_answer_gives_the_ttft_that_remains_after_the_expected_decode() {
    // Total 300 ms for 10 tokens at 20 ms each: 100 ms to the first token.
    let stats = Arc::new(UpstreamStats::default());
    stats.observe_decode(20.0, 0);
    let sent = Instant::now();
    let mut flight = stats.start(sent, true, true);
    flight.answered(sent + ms(300), false, 0);
    assert_eq!(
        stats.read(0).ttft_ms,
        None,
        "a plain answer is measured when it ends"
    );
    let used = usage(10, 10, 0);
    flight.land(sent + ms(300), &landing(Some(&used)), 0);
    let estimate = stats.read(0);
    let ttft = estimate.ttft_ms.unwrap_or(f32::NAN);
    assert!((99.0..101.0).contains(&ttft), "{ttft}");
    assert_eq!(
        estimate.ms_per_token,
        Some(20.0),
        "plain answers never feed decode"
    );
    assert_eq!(estimate.samples, 1);
}

#[test]
fn a_plain_answer_without_usage_counts_four_bytes_a_token_only_when_it_generates() {
    let sent = Instant::now();
    let answer = |generates: bool| {
        let stats = Arc::new(UpstreamStats::default());
        stats.observe_decode(20.0, 0);
        let mut flight = stats.start(sent, generates, true);
        flight.answered(sent + ms(300), false, 0);
        let landed = Landing {
            complete: true,
            usage: None,
            sent_len: 40,
        };
        flight.land(sent + ms(300), &landed, 0);
        stats.read(0).ttft_ms.unwrap_or(f32::NAN)
    };
    let chat = answer(true);
    assert!((99.0..101.0).contains(&chat), "{chat}");
    let embedding = answer(false);
    assert!((299.0..301.0).contains(&embedding), "{embedding}");
}

#[test]
fn a_plain_answer_faster_than_its_expected_decode_still_reads_one_millisecond() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let mut flight = stats.start(sent, true, true);
    flight.answered(sent + ms(30), false, 0);
    let used = usage(10, 10, 0);
    flight.land(sent + ms(30), &landing(Some(&used)), 0);
    assert_eq!(stats.read(0).ttft_ms, Some(1.0));
}

#[test]
fn incomplete_landings_and_failures_feed_nothing() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let used = usage(10, 20, 5);
    for stream in [true, false] {
        let mut flight = stats.start(sent, true, true);
        flight.answered(sent + ms(10), stream, 0);
        let cut = Landing {
            complete: false,
            usage: Some(&used),
            sent_len: 100,
        };
        flight.land(sent + ms(100), &cut, 0);
    }
    // A stream's TTFT is taken when it answers, before the cut; nothing else is.
    let estimate = stats.read(0);
    assert_eq!(estimate.samples, 1);
    assert_eq!(estimate.ms_per_token, None);
    assert_eq!(estimate.output_tokens, None);
    // A failure that is not a timeout and a landing that never answered feed nothing either.
    let fresh = Arc::new(UpstreamStats::default());
    fresh
        .start(sent, true, true)
        .failed(false, sent + ms(50), 0);
    fresh
        .start(sent, true, true)
        .land(sent + ms(50), &landing(Some(&used)), 0);
    assert_eq!(fresh.read(0), UpstreamStats::default().read(0));
}

#[test]
fn a_timeout_feeds_its_elapsed_time_as_a_floor() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    stats
        .start(sent, true, true)
        .failed(true, sent + ms(500), 0);
    let ttft = stats.read(0).ttft_ms.unwrap_or(f32::NAN);
    assert!((499.0..501.0).contains(&ttft), "{ttft}");
    assert_eq!(stats.read(0).in_flight, 0);
}

#[test]
fn counting_tokens_is_in_flight_but_feeds_no_estimate() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let mut flight = stats.start(sent, false, false);
    assert_eq!(stats.read(0).in_flight, 1);
    flight.answered(sent + ms(1), false, 0);
    let counted = usage(2_000, 0, 0);
    flight.land(sent + ms(1), &landing(Some(&counted)), 0);
    let estimate = stats.read(0);
    assert_eq!(estimate.in_flight, 0);
    assert_eq!(
        estimate.ttft_ms, None,
        "a 1 ms count is no time to first token"
    );
    assert_eq!(estimate.output_tokens, None);
    assert_eq!(estimate.samples, 0);
    // Nor does a count that timed out raise the floor.
    stats
        .start(sent, false, false)
        .failed(true, sent + ms(30_000), 0);
    assert_eq!(stats.read(0).ttft_ms, None);
}

#[test]
fn an_api_that_generates_nothing_leaves_the_output_average_alone() {
    let stats = Arc::new(UpstreamStats::default());
    let sent = Instant::now();
    let mut chat = stats.start(sent, true, true);
    chat.answered(sent + ms(100), false, 0);
    let answered = usage(100, 300, 0);
    chat.land(sent + ms(100), &landing(Some(&answered)), 0);
    assert_eq!(stats.read(0).output_tokens, Some(300.0));
    // An embedding through the same provider (a route without a fixed model shares the entry).
    let mut embedding = stats.start(sent, false, true);
    embedding.answered(sent + ms(50), false, 10);
    let embedded = usage(100, 0, 0);
    embedding.land(sent + ms(50), &landing(Some(&embedded)), 10);
    assert_eq!(stats.read(10).output_tokens, Some(300.0));
}
