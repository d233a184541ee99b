//! Smoke test of the benchmark harness: `bench --quick` against the debug gateway must write a
//! Markdown and a JSON report with every arm present. It checks that the harness works, never
//! the figures, which mean nothing for a debug build on a busy test machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const ARMS: [&str; 6] = [
    "latency",
    "throughput",
    "streaming",
    "footprint",
    "reload",
    "resilience",
];

/// The debug gateway, built here so that it is current; `SWITCHYARD_BIN` overrides it.
fn debug_gateway() -> PathBuf {
    if let Some(bin) = std::env::var_os("SWITCHYARD_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "-p",
            "switchyard",
            "--bin",
            "switchyard",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building the debug gateway failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target
        .join("debug")
        .join(format!("switchyard{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn quick_run_reports_every_arm() {
    let gateway = debug_gateway();
    let out = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("--quick")
        .arg("--gateway-bin")
        .arg(&gateway)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("the bench binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench --quick failed ({}):\n{stderr}",
        output.status
    );

    let json = std::fs::read_to_string(out.path().join("report.json")).expect("report.json");
    let report: Value = serde_json::from_str(&json).expect("report.json is JSON");
    for arm in ARMS {
        let status = report["arms"][arm]["status"].as_str();
        assert!(
            matches!(status, Some("ok" | "not_available")),
            "arm {arm} is {status:?}: {}\n{stderr}",
            report["arms"][arm]
        );
    }
    assert_eq!(report["meta"]["mode"], "quick");
    // The latency arm's later rounds run inside it; this build has what they need, so a round
    // that is missing or failed is the harness's fault.
    for round in ["cache_guardrails", "strategies"] {
        let status = report["arms"]["latency"]["result"][round]["status"].as_str();
        assert_eq!(
            status,
            Some("ok"),
            "the latency arm's {round} round: {}\n{stderr}",
            report["arms"]["latency"]["result"][round]
        );
    }
    let budget = report["budget"].as_array().expect("a budget list");
    assert!(budget.len() >= 14, "budget lines: {budget:?}");
    assert!(
        budget
            .iter()
            .all(|line| line["name"].is_string() && line["measured"].is_string()),
        "{budget:?}"
    );

    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    for heading in [
        "## Budget",
        "## 1. Added latency",
        "## 2. Throughput",
        "## 3. Streaming",
        "## 4. Footprint",
        "## 5. Reload",
        "## 6. Resilience",
        "## 8. Response cache and guardrails",
        "## 9. Routing strategies",
    ] {
        assert!(markdown.contains(heading), "report.md lacks {heading}");
    }
}
