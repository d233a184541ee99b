//! The README's install and test commands: one line each, run by `.ci/run`, and both exist.
//!
//! `.ci/run` runs whatever lies between the `INSTALL-COMMAND` and `TEST-COMMAND` markers of
//! README.md. These tests read the markers themselves, and also run `.ci/run`'s own extraction
//! function, so that the README, CI and the scripts cannot drift apart.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use switchyard_tests::workspace_root;

/// The marker names and the one command each must hold.
const COMMANDS: [(&str, &str); 2] = [
    ("INSTALL-COMMAND", "./install.sh"),
    ("TEST-COMMAND", "tests/run.sh"),
];

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()))
}

/// The lines between `<!-- NAME -->` and `<!-- /NAME -->`, without the code fence and blank
/// lines; panics unless each marker appears exactly once and in order.
fn between_markers(readme: &str, name: &str) -> Vec<String> {
    let open = format!("<!-- {name} -->");
    let close = format!("<!-- /{name} -->");
    let lines: Vec<&str> = readme.lines().collect();
    let position = |marker: &str| {
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim() == marker)
            .collect();
        assert_eq!(found.len(), 1, "README.md has {marker} exactly once");
        found[0]
    };
    let (start, end) = (position(&open), position(&close));
    assert!(start < end, "{open} comes before {close}");
    lines[start + 1..end]
        .iter()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("```"))
        .map(|line| (*line).to_owned())
        .collect()
}

/// The `readme_command` shell function, exactly as `.ci/run` defines it.
fn ci_extraction_function(ci_run: &str) -> String {
    let start = ci_run
        .find("readme_command() {")
        .expect(".ci/run defines readme_command()");
    let length = ci_run[start..]
        .find("\n}")
        .expect("readme_command() has a closing brace on its own line");
    ci_run[start..start + length + 2].to_owned()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[test]
fn readme_holds_exactly_one_command_between_each_marker_pair() {
    let readme = read("README.md");
    for (name, expected) in COMMANDS {
        assert_eq!(
            between_markers(&readme, name),
            [expected],
            "README.md gives exactly `{expected}` between the {name} markers"
        );
    }
}

#[test]
fn ci_run_extracts_the_readme_commands_and_runs_them() {
    let ci_run = read(".ci/run");
    let function = ci_extraction_function(&ci_run);
    for (name, expected) in COMMANDS {
        // The same pipeline CI uses, run on the real README from the workspace root.
        let output = Command::new("bash")
            .current_dir(workspace_root())
            .arg("-c")
            .arg(format!(
                "set -euo pipefail\n{function}\nreadme_command {name}"
            ))
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "readme_command {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim_end(),
            expected,
            ".ci/run extracts `{expected}` for {name}"
        );
        assert!(
            ci_run.contains(&format!("readme_command {name})")),
            ".ci/run extracts the {name} command"
        );
    }
    for variable in ["install_command", "test_command"] {
        assert!(
            ci_run.contains(&format!("bash -c \"${variable}\"")),
            ".ci/run runs ${variable}"
        );
    }
    assert!(
        is_executable(&workspace_root().join(".ci/run")),
        ".ci/run is executable"
    );
}

#[test]
fn the_readme_commands_name_executable_scripts() {
    for (_, command) in COMMANDS {
        let script = workspace_root().join(command);
        assert!(
            is_executable(&script),
            "{} exists and is executable",
            script.display()
        );
        let text = std::fs::read_to_string(&script).expect("the script is text");
        assert!(
            text.starts_with("#!/usr/bin/env bash\n"),
            "{command} starts with a bash shebang"
        );
    }
}
