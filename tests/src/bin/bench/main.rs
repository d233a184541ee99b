//! `bench`: Switchyard's benchmark harness. It runs the gateway and the mock directly side by side
//! in one run, interleaved, and writes `report.md` and `report.json`; see BENCHMARKS.md.
//!
//! Run it with `cargo run --release -p switchyard-tests --bin bench`. It builds the release
//! gateway first unless `--gateway-bin` names one.

mod budget;
mod cache_guardrails;
mod client;
mod cluster;
mod footprint;
mod gateway;
mod latency;
mod mock;
mod relay;
mod reload;
mod report;
mod request_log;
mod resilience;
mod sections;
mod setup;
mod stats;
mod strategies;
mod streaming;
mod system;
mod throughput;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use crate::client::Target;
use crate::gateway::Launch;
use crate::report::{Arm, Arms, Meta, Report};
use crate::setup::{Ctx, Plan};

/// Benchmarks the Switchyard gateway against its own mock upstream and writes a report.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Opts {
    /// Tiny sample sizes, for the smoke test: every arm runs, no figure means anything.
    #[arg(long)]
    quick: bool,
    /// The gateway binary to measure; without it, `cargo build --release` builds one.
    #[arg(long, value_name = "PATH")]
    gateway_bin: Option<PathBuf>,
    /// Where report.md, report.json and gateway.log go [default: <target dir>/bench].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Another gateway to measure alongside, by the base URL of its OpenAI API (such as
    /// `litellm=http://127.0.0.1:4000/v1`). It must route model `bench-gpt` to the mock (see
    /// `--mock-listen`); `BENCH_COMPARE_API_KEY` is sent as its bearer token when set.
    #[arg(long, value_name = "NAME=URL")]
    compare: Vec<String>,
    /// The mock's address; fix the port when a compared gateway must be configured to reach it.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    mock_listen: SocketAddr,
    /// Do not pin the gateway and the load generator to separate CPUs.
    #[arg(long)]
    no_pin: bool,
    /// Run only these arms (comma-separated), for investigating one figure; the others are
    /// reported as skipped.
    #[arg(long, value_delimiter = ',', value_parser = NAMEABLE_ARMS)]
    only: Vec<String>,
    /// On a shared machine: before each arm, wait up to this many seconds for other processes
    /// to leave the CPUs idle (under 5% for two seconds in a row).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    wait_quiet: u64,
    /// Where the cluster arm's Redis runs: on the gateways' CPU (the default: the single node
    /// admits on its own CPU, so the comparison charges the round trip, not a wake-up across
    /// vCPUs), or on the load generator's (every Redis call then wakes the other vCPU).
    #[arg(long, value_enum, default_value_t = cluster::RedisCpu::Gateway)]
    redis_cpu: cluster::RedisCpu,
    /// A note shown in the report's header, such as which change is being measured.
    #[arg(long)]
    label: Option<String>,
    /// Internal: run as the null relay listening here (see relay.rs).
    #[arg(long, hide = true, requires = "relay_upstream")]
    relay_listen: Option<SocketAddr>,
    /// Internal: the null relay's upstream.
    #[arg(long, hide = true)]
    relay_upstream: Option<SocketAddr>,
}

/// What `--only` accepts: the arms in the order they run (reload last: it leaves a large
/// configuration), and `cluster`, which runs only when named (it needs
/// PostgreSQL and Redis; see cluster.rs) and writes its own report.
const NAMEABLE_ARMS: [&str; 7] = [
    "latency",
    "throughput",
    "streaming",
    "resilience",
    "footprint",
    "reload",
    "cluster",
];

fn main() -> std::process::ExitCode {
    let opts = Opts::parse();
    if let (Some(listen), Some(upstream)) = (opts.relay_listen, opts.relay_upstream) {
        return match relay::serve(listen, upstream) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench relay: {error:#}");
                std::process::ExitCode::from(2)
            }
        };
    }
    match run(opts) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(error) => {
            eprintln!("bench: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs everything; `Ok(false)` when an arm failed (the report is still written).
fn run(opts: Opts) -> anyhow::Result<bool> {
    let plan = if opts.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| system::target_dir().join("bench"));
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let bin = match &opts.gateway_bin {
        Some(bin) => bin.clone(),
        None => system::build_release_gateway()?,
    };
    let bin = std::fs::canonicalize(&bin)
        .with_context(|| format!("no gateway binary at {}", bin.display()))?;
    let nofile_limit = system::raise_nofile_limit();
    // Pin before the runtime starts, so that every thread it spawns inherits the CPU.
    let (gateway_cpu, pinning) = system::pin(opts.no_pin);
    let compares = opts
        .compare
        .iter()
        .map(|spec| parse_compare(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let log = out_dir.join("gateway.log");
    std::fs::write(&log, "")?;
    let launch = Launch {
        bin: bin.clone(),
        cpu: gateway_cpu,
        log,
        env: Vec::new(),
    };
    let started = Instant::now();
    let started_utc = system::utc_now();
    // One thread: the mock and the load generator share the CPU they are pinned to, and
    // nothing migrates between cores mid-measurement.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mark = system::CpuMark::now(&[]);
    let arms = runtime.block_on(run_arms(plan.clone(), launch, &opts, compares.clone()))?;
    let background_cpu_percent = mark.zip(system::CpuMark::now(&[])).map(|(before, after)| {
        before.background_percent(
            &after,
            started.elapsed().as_secs_f64(),
            gateway::clock_ticks_per_sec(),
        )
    });

    let meta = Meta {
        started_utc,
        duration_s: started.elapsed().as_secs_f64().round(),
        mode: if opts.quick { "quick" } else { "full" },
        label: opts.label.clone(),
        git_commit: system::git_commit(),
        gateway_bin: bin.display().to_string(),
        cpu_model: system::cpu_model(),
        cpus: system::online_cpus(),
        background_cpu_percent,
        kernel: system::kernel(),
        pinning,
        nofile_limit,
        compare: compares.iter().map(|t| t.name.clone()).collect(),
        plan,
    };
    let report = Report::new(meta, arms);
    let markdown = report.markdown();
    std::fs::write(out_dir.join("report.md"), &markdown)?;
    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{markdown}");
    println!(
        "bench: wrote {} and {}",
        out_dir.join("report.md").display(),
        out_dir.join("report.json").display()
    );
    Ok(!report.any_arm_failed())
}

async fn run_arms(
    plan: Plan,
    launch: Launch,
    opts: &Opts,
    compares: Vec<Arc<Target>>,
) -> anyhow::Result<Arms> {
    let mock = mock::Mock::start(opts.mock_listen).await?;
    let work = tempfile::tempdir()?;
    let data_dir = work.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let (config, cache_guardrails_note) =
        apply_base_config(&launch, &data_dir, work.path(), &mock, &plan).await?;
    let gateway = launch
        .spawn(&data_dir, "127.0.0.1:0".parse()?)?
        .ready(Duration::from_secs(30))
        .await?;
    // A gateway without consumers (an older build being compared) still runs every other arm;
    // the keyed arm then measures the plain path under its name, and the report says so.
    let keyed = match gateway.keyed_target().await {
        Ok(keyed) => keyed,
        Err(error) => {
            eprintln!("bench: no consumer key ({error:#}); switchyard+key runs without one");
            gateway.target()
        }
    };
    // The log-off gateway serves the latency arm only, so it runs only when that arm does. An
    // older build without the switch leaves its target out, and the report says why.
    let (log_off, log_off_note) = if runs(opts, "latency") {
        match request_log::start_log_off(&launch, work.path(), &config).await {
            Ok(log_off) => (Some(log_off), None),
            Err(error) => {
                let note = format!("`{}` left out: {error:#}", request_log::LOG_OFF_TARGET);
                eprintln!("bench: {note}");
                (None, Some(note))
            }
        }
    } else {
        (None, None)
    };
    let direct = Target::new("direct", mock.addr, "/v1/chat/completions");
    let relay = relay::spawn(launch.cpu, mock.addr).await?;
    let mut ctx = Ctx {
        plan,
        launch,
        mock,
        gateway,
        data_dir,
        work_dir: work.path().to_path_buf(),
        direct,
        relay,
        compares,
        keyed,
        log_off,
        log_off_note,
        base_config: config,
        cache_guardrails_note,
        ticks_per_sec: gateway::clock_ticks_per_sec(),
    };
    // The reload arm goes last: it leaves the gateway with the large configuration.
    let mut noise = BTreeMap::new();
    let mut live = vec![ctx.gateway.pid, ctx.relay.pid];
    live.extend(ctx.log_off.as_ref().map(|l| l.gateway.pid));
    let latency = arm(opts, "latency", &mut noise, &live, latency::run(&ctx)).await;
    // The log-off gateway has done its part: it must not take CPU from the later arms.
    if let Some(log_off) = ctx.log_off.take() {
        log_off.gateway.stop().await;
    }
    let live = [ctx.gateway.pid, ctx.relay.pid];
    let throughput = arm(opts, "throughput", &mut noise, &live, throughput::run(&ctx)).await;
    // The request log is read right after the throughput arm, while its records are fresh.
    let request_log = match throughput.ok() {
        Some(result) => match request_log::run(&ctx.gateway, result).await {
            Ok(request_log::Outcome::Measured(result)) => Arm::Ok { result: *result },
            Ok(request_log::Outcome::NotAvailable(reason)) => Arm::NotAvailable { reason },
            Err(error) => Arm::Failed {
                error: format!("{error:#}"),
            },
        },
        None => Arm::NotAvailable {
            reason: "not measured (it follows the throughput arm, which has no result)".into(),
        },
    };
    let streaming = arm(opts, "streaming", &mut noise, &live, streaming::run(&ctx)).await;
    let resilience = match arm(opts, "resilience", &mut noise, &live, resilience::run(&ctx)).await {
        Arm::Ok {
            result: resilience::Outcome::Measured(result),
        } => Arm::Ok { result },
        Arm::Ok {
            result: resilience::Outcome::NotAvailable(reason),
        }
        | Arm::NotAvailable { reason } => Arm::NotAvailable { reason },
        Arm::Failed { error } => Arm::Failed { error },
    };
    let footprint = arm(opts, "footprint", &mut noise, &live, footprint::run(&ctx)).await;
    // Before the reload arm, so that the single node it is compared with has the base
    // configuration, as the cluster has.
    if opts.only.iter().any(|o| o == "cluster") {
        run_cluster(&ctx, opts).await;
    }
    let reload = arm(opts, "reload", &mut noise, &live, reload::run(&ctx)).await;
    ctx.gateway.stop().await;
    ctx.relay.stop().await;
    Ok(Arms {
        latency,
        throughput,
        streaming,
        footprint,
        reload,
        resilience,
        request_log,
        background_cpu_percent: noise,
    })
}

/// Runs the cluster arm and writes `cluster.md` and `cluster.json` beside the main report; a
/// failure is printed, and the other arms go on.
async fn run_cluster(ctx: &Ctx, opts: &Opts) {
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| system::target_dir().join("bench"));
    match cluster::run(ctx, opts.redis_cpu).await {
        Ok(result) => {
            let markdown = result.markdown();
            println!("{markdown}");
            let written = std::fs::write(out_dir.join("cluster.md"), &markdown).and_then(|()| {
                let json = serde_json::to_string_pretty(&result).unwrap_or_default();
                std::fs::write(out_dir.join("cluster.json"), json)
            });
            if let Err(error) = written {
                eprintln!("bench: cannot write the cluster report: {error}");
            }
        }
        Err(error) => eprintln!("bench: the cluster arm failed: {error:#}"),
    }
}

/// Applies the base configuration to `data_dir`, with the cached and guarded routes when the
/// build accepts them. An older build refuses them; it then gets the configuration without them,
/// and the note that comes back says why their targets are left out.
async fn apply_base_config(
    launch: &Launch,
    data_dir: &std::path::Path,
    work_dir: &std::path::Path,
    mock: &mock::Mock,
    plan: &Plan,
) -> anyhow::Result<(serde_json::Value, Option<String>)> {
    let file = work_dir.join("base.json");
    let config = setup::base_config(mock, plan, true);
    let refusal = match gateway::apply_config(&launch.bin, data_dir, &file, &config).await {
        Ok(()) => return Ok((config, None)),
        Err(error) => error,
    };
    let config = setup::base_config(mock, plan, false);
    gateway::apply_config(&launch.bin, data_dir, &file, &config).await?;
    // The CLI's message can run over several lines; its first names the refused field.
    let reason = format!("{refusal:#}");
    let first_line = reason.lines().next().unwrap_or_default().trim();
    let note = format!(
        "the cache and guardrail targets are left out: the gateway refused their routes \
         ({first_line})"
    );
    eprintln!("bench: {note}");
    Ok((config, Some(note)))
}

/// Runs one arm unless `--only` leaves it out (futures do nothing until awaited).
/// Records in `noise` how much CPU other processes took meanwhile, so that a disturbed arm shows.
async fn arm<T>(
    opts: &Opts,
    name: &str,
    noise: &mut BTreeMap<String, f64>,
    live: &[u32],
    run: impl std::future::Future<Output = anyhow::Result<T>>,
) -> Arm<T> {
    if !runs(opts, name) {
        return Arm::NotAvailable {
            reason: "skipped (--only)".into(),
        };
    }
    wait_quiet(opts.wait_quiet, live).await;
    eprintln!("bench: {name}");
    let (mark, started) = (system::CpuMark::now(live), Instant::now());
    let result = Arm::from_result(run.await);
    // Clock ticks are 10 ms, so an arm shorter than a second cannot be judged this way.
    if let (Some(before), Some(after)) = (mark, system::CpuMark::now(live))
        && started.elapsed() >= Duration::from_secs(1)
    {
        let ticks = gateway::clock_ticks_per_sec();
        let busy = before.background_percent(&after, started.elapsed().as_secs_f64(), ticks);
        noise.insert(name.to_owned(), busy);
    }
    result
}

/// Whether `--only` leaves the arm `name` in.
fn runs(opts: &Opts, name: &str) -> bool {
    opts.only.is_empty() || opts.only.iter().any(|o| o == name)
}

/// Waits until other processes have used under 5% of the CPUs for two one-second windows in a
/// row, or `limit_secs` have passed; our own processes are idle meanwhile and not counted.
async fn wait_quiet(limit_secs: u64, live: &[u32]) {
    if limit_secs == 0 {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(limit_secs);
    let ticks = gateway::clock_ticks_per_sec();
    let mut quiet = 0;
    while quiet < 2 && Instant::now() < deadline {
        let Some(before) = system::CpuMark::now(live) else {
            return;
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(after) = system::CpuMark::now(live) else {
            return;
        };
        let busy = before.background_percent(&after, 1.0, ticks);
        quiet = if busy < 5.0 { quiet + 1 } else { 0 };
    }
    if quiet < 2 {
        eprintln!("bench: the machine stayed busy for {limit_secs} s; measuring anyway");
    }
}

/// `NAME=http://host:port/prefix` into a target on this machine.
fn parse_compare(spec: &str) -> anyhow::Result<Arc<Target>> {
    let (name, url) = spec
        .split_once('=')
        .context("--compare takes NAME=URL, such as litellm=http://127.0.0.1:4000/v1")?;
    let rest = url
        .strip_prefix("http://")
        .context("--compare URLs must be plain http:// on this machine")?;
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to nothing"))?;
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "--compare targets must be on this machine (a loopback address), not {addr}"
    );
    let prefix = prefix.trim_end_matches('/');
    let path = if prefix.is_empty() {
        "/chat/completions".to_owned()
    } else {
        format!("/{prefix}/chat/completions")
    };
    let authorization = std::env::var("BENCH_COMPARE_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map(|k| http::HeaderValue::from_str(&format!("Bearer {k}")))
        .transpose()?;
    Ok(Arc::new(Target {
        name: name.to_owned(),
        addr,
        path,
        authorization,
        body: None,
        expect_header: None,
        rotate_header: None,
    }))
}
