//! The machine around the run: building the gateway, CPU pinning, file limits, and the facts
//! the report records about where it ran.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// The workspace root, two levels above this crate's manifest.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo does.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `cargo build --release -p switchyard --bin switchyard`, returning the binary's path.
pub fn build_release_gateway() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: building the release gateway");
    let status = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "-p",
            "switchyard",
            "--bin",
            "switchyard",
        ])
        .status()
        .context("cannot run cargo to build the gateway")?;
    if !status.success() {
        bail!("building the release gateway failed ({status})");
    }
    Ok(target_dir()
        .join("release")
        .join(format!("switchyard{}", std::env::consts::EXE_SUFFIX)))
}

/// Raises the soft open-files limit to the hard one (the gateway inherits it: a thousand
/// streams need two thousand sockets on each side); returns the limit in force.
pub fn raise_nofile_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(1 << 20) {
        Ok(limit) => Some(limit),
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft),
    }
}

/// Pins this process to the second allowed CPU and returns the first one for the gateway,
/// with a sentence for the report. Without `taskset` or a second CPU nothing is pinned.
pub fn pin(disabled: bool) -> (Option<usize>, String) {
    if disabled {
        return (None, "not pinned (--no-pin)".into());
    }
    let cpus = allowed_cpus();
    if cpus.len() < 2 {
        return (None, "not pinned (fewer than two CPUs allowed)".into());
    }
    let (gateway, load) = (cpus[0], cpus[1]);
    let pinned = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &load.to_string(),
            &std::process::id().to_string(),
        ])
        .output();
    match pinned {
        Ok(output) if output.status.success() => (
            Some(gateway),
            format!(
                "gateway pinned to CPU {gateway}, load generator and mock to CPU {load} (taskset)"
            ),
        ),
        Ok(_) | Err(_) => (None, "not pinned (taskset unavailable or refused)".into()),
    }
}

/// The CPUs this process may run on, from `Cpus_allowed_list` such as `0-3,6`.
fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        let range: Option<(usize, usize)> = match part.split_once('-') {
            Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
            None => part.parse().ok().map(|a| (a, a)),
        };
        if let Some((a, b)) = range {
            cpus.extend(a..=b);
        }
    }
    cpus
}

pub fn git_commit() -> Option<String> {
    let run = |args: &[&str]| {
        Command::new("git")
            .current_dir(workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty())?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit} (with uncommitted changes)")
    } else {
        commit
    })
}

pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

pub fn kernel() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`, without a date library.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// CPU time the rest of the machine used: the busy ticks of all CPUs (/proc/stat) minus this
/// process's own, its reaped children's (`config apply`, stopped gateways) and those of the
/// live children named by pid (the running gateway and relay).
#[derive(Clone, Copy)]
pub struct CpuMark {
    machine_busy: u64,
    ours: u64,
}

impl CpuMark {
    pub fn now(live_children: &[u32]) -> Option<CpuMark> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3)? + fields.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after = own.rsplit_once(')')?.1;
        let own: Vec<u64> = after
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse().ok())
            .collect();
        let children: u64 = live_children
            .iter()
            .filter_map(|&pid| crate::gateway::cpu_ticks(pid).ok())
            .sum();
        Some(CpuMark {
            machine_busy: total - idle,
            ours: own.iter().sum::<u64>() + children,
        })
    }

    /// Other processes' share of the whole machine since `self`, in percent.
    pub fn background_percent(&self, later: &CpuMark, seconds: f64, ticks_per_sec: u64) -> f64 {
        let cpus = online_cpus().max(1) as f64;
        let others = later
            .machine_busy
            .saturating_sub(self.machine_busy)
            .saturating_sub(later.ours.saturating_sub(self.ours));
        let capacity = seconds * ticks_per_sec as f64 * cpus;
        crate::stats::round2(100.0 * others as f64 / capacity.max(1.0))
    }
}

/// The machine's CPUs, whatever this process is pinned to: the `cpuN` lines of /proc/stat.
pub fn online_cpus() -> usize {
    std::fs::read_to_string("/proc/stat")
        .map(|stat| {
            stat.lines()
                .filter(|l| {
                    l.strip_prefix("cpu")
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                })
                .count()
        })
        .unwrap_or(0)
}
