#!/usr/bin/env bash
# Runs the whole test suite, exactly as CI does: formatting, lints with warnings denied, unit and
# golden-file tests, the end-to-end tests against the real binary, the installer tests, and the
# console's browser tests in headless Chromium.
#
# On a fresh machine (Rust toolchain, Python, Node and gcc) it first installs what the tests need:
# Debian's chromium, postgresql and redis-server (with apt-get, when run as root), playwright-core
# from npm (pinned in tests/browser/package-lock.json), the wasm32 target and the pinned
# wasm-bindgen CLI, and it builds the console so the browser tests have one to drive.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '==> %s\n' "$*" >&2; }

# Debian packages the tests need and this machine lacks: chromium for the browser tests,
# postgresql and redis-server for the cluster tests (tests/src/cluster.rs). PostgreSQL is looked for
# where Debian puts it, off PATH.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} for the tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the tests need ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' and try again" >&2
    exit 1
  fi
fi
# The cluster tests skip when PostgreSQL or Redis is missing on a developer's machine; here they
# are installed, so a skip would hide a broken fixture: make it a failure.
export SWITCHYARD_REQUIRE_CLUSTER=1

say "installing the browser test driver (playwright-core, no browser download)"
(cd tests/browser && npm ci --no-audit --no-fund --silent)

say "installing the official SDKs the SDK test drives (tests/sdk/requirements.txt)"
if [[ ! -x tests/sdk/.venv/bin/python ]]; then
  python3 -m venv tests/sdk/.venv
fi
tests/sdk/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

say "building the console"
console/build.sh --console-only

say "checking formatting"
cargo fmt --all -- --check
say "linting (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
say "building the gateway and every test binary"
# One build with the feature set `cargo test --workspace` resolves, so the binary the end-to-end
# tests start is not rebuilt by the harness with a second, narrower feature set (a second copy of
# every dependency: minutes of CI and gigabytes of disk).
cargo build --workspace --bins --tests
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export SWITCHYARD_BIN="$target_dir/debug/switchyard"
say "running the tests"
cargo test --workspace --no-fail-fast
