//! The run's results as JSON (everything) and Markdown (the budget table and one section per arm),
//! with each budget line judged PASS or FAIL.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::budget::{self, Line};
use crate::footprint::FootprintResult;
use crate::latency::LatencyResult;
use crate::reload::ReloadResult;
use crate::request_log::RequestLogResult;
use crate::resilience::FailoverResult;
use crate::setup::Plan;
use crate::streaming::StreamingResult;
use crate::throughput::ThroughputResult;

/// One arm's outcome; every arm appears in the report whatever happened to it.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Arm<T> {
    Ok { result: T },
    NotAvailable { reason: String },
    Failed { error: String },
}

impl<T> Arm<T> {
    pub fn from_result(result: anyhow::Result<T>) -> Arm<T> {
        match result {
            Ok(result) => Arm::Ok { result },
            Err(error) => Arm::Failed {
                error: format!("{error:#}"),
            },
        }
    }

    pub fn ok(&self) -> Option<&T> {
        match self {
            Arm::Ok { result } => Some(result),
            _ => None,
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self, Arm::Failed { .. })
    }

    /// The arm's state in words when it has no result.
    pub fn absent(&self) -> Option<String> {
        match self {
            Arm::Ok { .. } => None,
            Arm::NotAvailable { reason } => Some(reason.clone()),
            Arm::Failed { error } => Some(format!("arm failed: {error}")),
        }
    }
}

/// Where and how the run happened.
#[derive(Serialize)]
pub struct Meta {
    pub started_utc: String,
    pub duration_s: f64,
    pub mode: &'static str,
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub gateway_bin: String,
    pub cpu_model: Option<String>,
    pub cpus: usize,
    /// Other processes' share of the machine's CPU during the run; figures are only
    /// trustworthy when it is near zero.
    pub background_cpu_percent: Option<f64>,
    pub kernel: Option<String>,
    /// "gateway on CPU 0, load generator and mock on CPU 1", or why not pinned.
    pub pinning: String,
    pub nofile_limit: Option<u64>,
    pub compare: Vec<String>,
    pub plan: Plan,
}

#[derive(Serialize)]
pub struct Arms {
    pub latency: Arm<LatencyResult>,
    pub throughput: Arm<ThroughputResult>,
    pub streaming: Arm<StreamingResult>,
    pub footprint: Arm<FootprintResult>,
    pub reload: Arm<ReloadResult>,
    pub resilience: Arm<FailoverResult>,
    /// The request log's writer through the throughput arm (it is read right after that arm).
    pub request_log: Arm<RequestLogResult>,
    /// Other processes' share of the machine's CPU while each arm ran, in percent.
    pub background_cpu_percent: BTreeMap<String, f64>,
}

#[derive(Serialize)]
pub struct Report {
    pub meta: Meta,
    pub budget: Vec<Line>,
    pub arms: Arms,
}

impl Report {
    pub fn new(meta: Meta, arms: Arms) -> Report {
        Report {
            budget: budget::judge(&arms),
            meta,
            arms,
        }
    }

    pub fn any_arm_failed(&self) -> bool {
        let a = &self.arms;
        a.latency.failed()
            || a.latency.ok().is_some_and(|l| l.cache_guardrails.failed())
            || a.latency.ok().is_some_and(|l| l.strategies.failed())
            || a.throughput.failed()
            || a.streaming.failed()
            || a.footprint.failed()
            || a.reload.failed()
            || a.resilience.failed()
            || a.request_log.failed()
    }

    pub fn markdown(&self) -> String {
        let m = &self.meta;
        let mut out = String::new();
        out.push_str("# Switchyard benchmark report\n\n");
        if let Some(label) = &m.label {
            out.push_str(&format!("**{label}**\n\n"));
        }
        out.push_str(&format!(
            "Run {} ({} mode, {:.0} s), commit {}, gateway `{}`.\n\n",
            m.started_utc,
            m.mode,
            m.duration_s,
            m.git_commit.as_deref().unwrap_or("unknown"),
            m.gateway_bin
        ));
        out.push_str(&format!(
            "Machine: {} × {}, kernel {}; {}; open-files limit {}.\n\n",
            m.cpus,
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.kernel.as_deref().unwrap_or("unknown"),
            m.pinning,
            m.nofile_limit
                .map_or_else(|| "unknown".into(), |n| n.to_string())
        ));
        if let Some(busy) = m.background_cpu_percent {
            let verdict = if busy < 2.0 {
                "the machine was otherwise quiet"
            } else {
                "**the machine was busy with other work: treat the figures with suspicion**"
            };
            out.push_str(&format!(
                "Other processes used {busy:.1}% of the machine's CPU during the run; {verdict}.\n\n"
            ));
        }
        if m.plan.quick {
            out.push_str("**Quick mode: sample sizes are tiny and the figures mean nothing.**\n\n");
        }
        out.push_str("## Budget\n\n| Line | Budget | Measured | Result |\n|---|---|---|---|\n");
        for line in &self.budget {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                line.name,
                line.budget,
                line.measured,
                line.verdict()
            ));
        }
        out.push('\n');
        crate::sections::all(&mut out, &self.arms);
        out
    }
}
