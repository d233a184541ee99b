#!/usr/bin/env bash
# Builds the web console (Leptos → wasm32 → wasm-bindgen) into console/dist, then the switchyard
# binary in release mode, which embeds console/dist. One command, in the right order:
#
#   console/build.sh                 # console + release server
#   console/build.sh --console-only  # just console/dist
#
# It installs what it needs if missing: the wasm32 target (rustup) and the wasm-bindgen CLI at
# exactly the version console/Cargo.toml pins. It never downloads binaries from elsewhere.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
console_only=false
[[ "${1:-}" == "--console-only" ]] && console_only=true

say() { printf '==> %s\n' "$*" >&2; }

pinned=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' console/Cargo.toml)
if [[ -z "$pinned" ]]; then
  echo "console/Cargo.toml must pin wasm-bindgen with = (found none)" >&2
  exit 1
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

installed=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ "$installed" != "$pinned" ]]; then
  say "installing wasm-bindgen-cli $pinned (found: ${installed:-none}); this takes a few minutes"
  # Without --locked on purpose: the registry can lag a crate the CLI's lockfile names.
  cargo install wasm-bindgen-cli --version "$pinned"
fi

say "building the console (wasm32, profile wasm-release)"
cargo build -p switchyard-console --target wasm32-unknown-unknown --profile wasm-release

dist="$root/console/dist"
rm -rf "$dist"
mkdir -p "$dist/pkg"
say "running wasm-bindgen $pinned"
wasm-bindgen --target web --no-typescript --remove-name-section --out-dir "$dist/pkg" \
  "${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/wasm-release/switchyard_console.wasm"

# wasm-opt is optional. Only a recent one is used: Debian's binaryen 108 emits broken output.
if command -v wasm-opt >/dev/null; then
  version=$(wasm-opt --version | grep -oE '[0-9]+' | head -1)
  if [[ "${version:-0}" -ge 116 ]]; then
    say "shrinking with wasm-opt $version"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      -o "$dist/pkg/switchyard_console_bg.wasm" "$dist/pkg/switchyard_console_bg.wasm"
  fi
fi

cp console/index.html "$dist/"
[[ -f console/style.css ]] && cp console/style.css "$dist/"
[[ -d console/public ]] && cp -r console/public/. "$dist/"

raw=$(stat -c %s "$dist/pkg/switchyard_console_bg.wasm")
gz=$(gzip -9 -c "$dist/pkg/switchyard_console_bg.wasm" | wc -c)
say "console built: wasm $((raw / 1024)) KiB, $((gz / 1024)) KiB gzipped"

if ! $console_only; then
  say "building the switchyard binary (release), embedding the console"
  # rust-embed only sees files at compile time; make sure the server crate is rebuilt.
  touch server/src/admin/console.rs
  cargo build --release -p switchyard
  say "done: target/release/switchyard"
fi
