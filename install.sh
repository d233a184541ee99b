#!/usr/bin/env bash
# Switchyard installer: builds the gateway from source, installs the binary, asks for provider
# keys (or takes them from flags and environment), writes them with `switchyard config apply`,
# and starts the gateway as a systemd user service or a supervised background process.
#
#   ./install.sh                      from a checkout
#   curl -fsSL <raw-url>/install.sh | bash
#   ./install.sh uninstall [--purge] | status | start | stop | restart | logs
#
# Run `./install.sh --help` for every option. Secrets given on the command line are never echoed
# or logged; the data dir is created with mode 0700.
set -euo pipefail
umask 077

SWITCHYARD_REPO="${SWITCHYARD_REPO:-https://github.com/switchyard-gateway/switchyard.git}"
SWITCHYARD_REF="${SWITCHYARD_REF:-main}"

# Provider types the guided setup offers, with the environment variable that may hold a key and the
# default model prefixes routed to them. An empty prefix list means "ask".
TYPES=(openai anthropic gemini deepseek qwen moonshot zhipu groq mistral together xai openrouter fireworks siliconflow azure ollama vllm openai-compatible)
declare -A KEY_ENV=(
  [openai]=OPENAI_API_KEY [anthropic]=ANTHROPIC_API_KEY [gemini]=GEMINI_API_KEY
  [deepseek]=DEEPSEEK_API_KEY [qwen]=DASHSCOPE_API_KEY [moonshot]=MOONSHOT_API_KEY
  [zhipu]=ZHIPUAI_API_KEY [groq]=GROQ_API_KEY [mistral]=MISTRAL_API_KEY
  [together]=TOGETHER_API_KEY [xai]=XAI_API_KEY [openrouter]=OPENROUTER_API_KEY
  [fireworks]=FIREWORKS_API_KEY [siliconflow]=SILICONFLOW_API_KEY [azure]=AZURE_OPENAI_API_KEY
)
declare -A DEFAULT_PREFIXES=(
  [openai]="gpt-,o1,o3,o4" [anthropic]="claude-" [gemini]="gemini-" [deepseek]="deepseek-"
  [qwen]="qwen" [moonshot]="moonshot-,kimi-" [zhipu]="glm-" [groq]="" [mistral]="mistral-,codestral-"
  [together]="" [xai]="grok-" [openrouter]="" [fireworks]="" [siliconflow]="" [azure]=""
  [ollama]="" [vllm]="" [openai-compatible]=""
)
declare -A NEEDS_BASE_URL=([azure]=1 [openai-compatible]=1)
declare -A KEY_OPTIONAL=([ollama]=1 [vllm]=1 [openai-compatible]=1)

# Options.
command_name=install
non_interactive=false
assume_yes=false
prefix="${HOME}/.local"
prefix_given=false
data_dir="${SWITCHYARD_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/switchyard}"
port=8080
console_port=8001
start=true
purge=false
from_binary=""
use_systemd=auto
declare -A CLI_KEY=() CLI_MODELS=() CLI_BASE_URL=()

if [[ -t 2 ]]; then bold=$'\033[1m' yellow=$'\033[33m' red=$'\033[31m' plain=$'\033[0m'; else bold='' yellow='' red='' plain=''; fi
say() { printf '%s==>%s %s\n' "$bold" "$plain" "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$yellow" "$plain" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$red" "$plain" "$*" >&2; exit 1; }

usage() {
  cat <<EOF
Usage: install.sh [install] [options]
       install.sh uninstall [--purge]
       install.sh status | start | stop | restart | logs

Options:
  --non-interactive        take everything from flags and environment; ask nothing
  --yes                    answer yes to confirmations
  --prefix DIR             install the binary into DIR/bin (default ~/.local)
  --data-dir DIR           where the database lives (default $data_dir)
  --port N                 proxy port (default 8080)
  --console-port N         console and admin API port (default 8001)
  --no-start               install and configure, but do not start the gateway
  --no-systemd             use a supervised background process even if systemd is there
  --from-binary PATH       install this prebuilt switchyard binary instead of building
  --TYPE-key KEY           an API key for provider TYPE (e.g. --deepseek-key sk-...)
  --TYPE-models A,B        model prefixes routed to TYPE (e.g. --openai-models gpt-,o3)
  --TYPE-base-url URL      base URL for TYPE (required for azure and openai-compatible)
  --purge                  with uninstall: also delete the data dir

Provider types: ${TYPES[*]}
Keys are also read from: $(for t in "${!KEY_ENV[@]}"; do printf '%s ' "${KEY_ENV[$t]}"; done)
EOF
}

is_type() {
  local candidate=$1 type
  for type in "${TYPES[@]}"; do [[ $type == "$candidate" ]] && return 0; done
  return 1
}

parse_args() {
  if [[ $# -gt 0 && $1 != -* ]]; then
    command_name=$1
    shift
  fi
  while [[ $# -gt 0 ]]; do
    local arg=$1
    case $arg in
      -h | --help) usage; exit 0 ;;
      --non-interactive) non_interactive=true ;;
      --yes | -y) assume_yes=true ;;
      --prefix) prefix=${2:?--prefix needs a directory}; prefix_given=true; shift ;;
      --data-dir) data_dir=${2:?--data-dir needs a directory}; shift ;;
      --port) port=${2:?--port needs a number}; shift ;;
      --console-port) console_port=${2:?--console-port needs a number}; shift ;;
      --no-start) start=false ;;
      --no-systemd) use_systemd=no ;;
      --purge) purge=true ;;
      --from-binary) from_binary=${2:?--from-binary needs a path}; shift ;;
      --*-key | --*-models | --*-base-url)
        local name=${arg#--} type field
        case $name in
          *-base-url) type=${name%-base-url}; field=base-url ;;
          *-models) type=${name%-models}; field=models ;;
          *) type=${name%-key}; field=key ;;
        esac
        is_type "$type" || die "unknown provider type in $arg (known: ${TYPES[*]})"
        [[ $# -ge 2 ]] || die "$arg needs a value"
        case $field in
          key) CLI_KEY[$type]=$2 ;;
          models) CLI_MODELS[$type]=$2 ;;
          base-url) CLI_BASE_URL[$type]=$2 ;;
        esac
        shift
        ;;
      *) die "unknown option $arg (see --help)" ;;
    esac
    shift
  done
  [[ $port =~ ^[0-9]+$ && $console_port =~ ^[0-9]+$ ]] || die "ports must be numbers"
}

# Reads one answer from the terminal, so prompts work even when the script itself is piped in.
ask() {
  local prompt=$1 default=${2:-} answer=""
  if $non_interactive; then
    printf '%s' "$default"
    return
  fi
  [[ -r /dev/tty ]] || die "no terminal to ask on; use --non-interactive with flags"
  printf '%s' "$prompt" >/dev/tty
  IFS= read -r answer </dev/tty || true
  printf '%s' "${answer:-$default}"
}

# Whether a terminal can be opened for questions (a CI job or a service has none).
has_terminal() {
  { : </dev/tty; } 2>/dev/null
}

# Like ask, with the input hidden (for keys).
ask_secret() {
  local prompt=$1 answer=""
  [[ -r /dev/tty ]] || die "no terminal to ask on; use --non-interactive with flags"
  printf '%s' "$prompt" >/dev/tty
  IFS= read -rs answer </dev/tty || true
  printf '\n' >/dev/tty
  printf '%s' "$answer"
}

confirm() {
  $assume_yes && return 0
  $non_interactive && return 0
  local answer
  answer=$(ask "$1 [Y/n] " y)
  [[ $answer =~ ^[Yy] ]]
}

bin_path() { printf '%s/bin/switchyard' "$prefix"; }
pid_file() { printf '%s/switchyard.pid' "$data_dir"; }
log_file() { printf '%s/switchyard.log' "$data_dir"; }
token_file() { printf '%s/admin-token' "$data_dir"; }
unit_file() { printf '%s/systemd/user/switchyard.service' "${XDG_CONFIG_HOME:-$HOME/.config}"; }

systemd_available() {
  [[ $use_systemd == no ]] && return 1
  command -v systemctl >/dev/null 2>&1 || return 1
  systemctl --user show-environment >/dev/null 2>&1
}

# --- Source and build -------------------------------------------------------------------------

source_dir() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" 2>/dev/null && pwd || true)
  if [[ -n $here && -f $here/Cargo.toml && -d $here/server ]]; then
    printf '%s' "$here"
    return
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/src"
  command -v git >/dev/null || die "git is needed to fetch the source: install it (e.g. apt-get install git)"
  if [[ -d $cache/.git ]]; then
    say "updating the source in $cache ($SWITCHYARD_REF)"
    git -C "$cache" fetch --quiet origin "$SWITCHYARD_REF"
    git -C "$cache" checkout --quiet FETCH_HEAD
  else
    say "fetching the source from $SWITCHYARD_REPO ($SWITCHYARD_REF)"
    mkdir -p "$(dirname "$cache")"
    git clone --quiet --branch "$SWITCHYARD_REF" "$SWITCHYARD_REPO" "$cache"
  fi
  printf '%s' "$cache"
}

check_prerequisites() {
  command -v cargo >/dev/null || die "cargo is missing. Install Rust with rustup (https://rustup.rs), then run this again."
  note "cargo: $(cargo --version)"
  command -v cc >/dev/null || command -v gcc >/dev/null || die "a C compiler is missing (needed by the TLS library): install gcc"
}

build() {
  local src=$1
  check_prerequisites
  say "building Switchyard (console and server, release mode); the first build takes several minutes"
  (cd "$src" && ./console/build.sh) || die "the build failed; the messages above say why"
  from_binary="$src/target/release/switchyard"
}

install_binary() {
  local target
  target=$(bin_path)
  mkdir -p "$(dirname "$target")"
  # Copy then rename, so a running gateway keeps its old binary until it restarts.
  cp "$from_binary" "$target.new"
  chmod 755 "$target.new"
  mv -f "$target.new" "$target"
  say "installed $target ($("$target" --version))"
  case ":$PATH:" in
    *":$(dirname "$target"):"*) ;;
    *) warn "$(dirname "$target") is not on your PATH; add it, e.g.: export PATH=\"$(dirname "$target"):\$PATH\"" ;;
  esac
}

# --- Guided setup -----------------------------------------------------------------------------

chosen=()
declare -A KEY=() MODELS=() BASE_URL=()

yaml_quote() {
  # A YAML double-quoted scalar; keys and URLs never contain control characters.
  local value=${1//\\/\\\\}
  printf '"%s"' "${value//\"/\\\"}"
}

provider_flags_given() {
  ((${#CLI_KEY[@]} + ${#CLI_MODELS[@]} + ${#CLI_BASE_URL[@]} > 0))
}

collect_from_flags() {
  local type key
  for type in "${TYPES[@]}"; do
    key=${CLI_KEY[$type]:-}
    if [[ -z $key && -n ${KEY_ENV[$type]:-} ]]; then
      key=${!KEY_ENV[$type]:-}
    fi
    if [[ -n $key || -n ${CLI_BASE_URL[$type]:-} || -n ${CLI_MODELS[$type]:-} ]]; then
      chosen+=("$type")
      KEY[$type]=$key
      MODELS[$type]=${CLI_MODELS[$type]:-${DEFAULT_PREFIXES[$type]}}
      BASE_URL[$type]=${CLI_BASE_URL[$type]:-}
    fi
  done
}

guided_setup() {
  say "guided setup: choose the providers to route to (Enter on an empty line finishes)"
  local i
  for i in "${!TYPES[@]}"; do
    printf '  %2d) %s\n' $((i + 1)) "${TYPES[$i]}" >/dev/tty
  done
  while true; do
    local pick type
    pick=$(ask "provider number (Enter to finish): ")
    [[ -z $pick ]] && break
    if ! [[ $pick =~ ^[0-9]+$ ]] || ((pick < 1 || pick > ${#TYPES[@]})); then
      printf '  please enter a number between 1 and %d\n' "${#TYPES[@]}" >/dev/tty
      continue
    fi
    type=${TYPES[$((pick - 1))]}
    # Providers are named after their type, so a second pick would give two with one name.
    if [[ " ${chosen[*]} " == *" $type "* ]]; then
      printf '  %s is already chosen\n' "$type" >/dev/tty
      continue
    fi
    local key=${CLI_KEY[$type]:-}
    [[ -z $key && -n ${KEY_ENV[$type]:-} ]] && key=${!KEY_ENV[$type]:-}
    if [[ -n $key ]]; then
      printf '  using the %s key from the command line or environment\n' "$type" >/dev/tty
    else
      key=$(ask_secret "  $type API key (input hidden): ")
      if [[ -z $key && -z ${KEY_OPTIONAL[$type]:-} ]]; then
        printf '  %s needs a key; skipped\n' "$type" >/dev/tty
        continue
      fi
    fi
    local base=${CLI_BASE_URL[$type]:-}
    if [[ -z $base && -n ${NEEDS_BASE_URL[$type]:-} ]]; then
      base=$(ask "  $type base URL: ")
      [[ -z $base ]] && { printf '  %s needs a base URL; skipped\n' "$type" >/dev/tty; continue; }
    fi
    local default=${CLI_MODELS[$type]:-${DEFAULT_PREFIXES[$type]}} models
    if [[ -n $default ]]; then
      models=$(ask "  model prefixes to route [$default]: " "$default")
    else
      models=$(ask "  model prefixes to route (comma-separated, e.g. llama-): ")
    fi
    [[ -z $models ]] && { printf '  no model prefixes; %s skipped\n' "$type" >/dev/tty; continue; }
    chosen+=("$type")
    KEY[$type]=$key
    MODELS[$type]=$models
    BASE_URL[$type]=$base
  done
}

fallback_primary=""
fallback_secondary=""

ask_fallback() {
  ((${#chosen[@]} >= 2)) || return 0
  $non_interactive && return 0
  local answer
  answer=$(ask "set up a fallback between two of them? [y/N] " n)
  [[ $answer =~ ^[Yy] ]] || return 0
  printf '  chosen: %s\n' "${chosen[*]}" >/dev/tty
  fallback_primary=$(ask "  primary provider: ")
  fallback_secondary=$(ask "  fallback provider: ")
  local ok_primary=false ok_secondary=false type
  for type in "${chosen[@]}"; do
    [[ $type == "$fallback_primary" ]] && ok_primary=true
    [[ $type == "$fallback_secondary" ]] && ok_secondary=true
  done
  if ! $ok_primary || ! $ok_secondary || [[ $fallback_primary == "$fallback_secondary" ]]; then
    printf '  not two different chosen providers; no fallback set up\n' >/dev/tty
    fallback_primary=""
    fallback_secondary=""
  fi
}

# Writes the collected setup as a config document (mode 0600) for `switchyard config apply`.
write_config() {
  local file=$1 type prefix_value
  {
    printf 'providers:\n'
    for type in "${chosen[@]}"; do
      printf -- '- name: %s\n  type: %s\n' "$type" "$type"
      [[ -n ${BASE_URL[$type]} ]] && printf '  base_url: %s\n' "$(yaml_quote "${BASE_URL[$type]}")"
      if [[ -n ${KEY[$type]} ]]; then
        printf '  api_keys: [%s]\n' "$(yaml_quote "${KEY[$type]}")"
      else
        printf '  api_keys: []\n'
      fi
    done
    printf 'routes:\n'
    for type in "${chosen[@]}"; do
      printf -- '- name: %s\n  match:\n' "$type"
      IFS=',' read -ra prefixes <<<"${MODELS[$type]}"
      for prefix_value in "${prefixes[@]}"; do
        prefix_value=$(printf '%s' "$prefix_value" | tr -d '[:space:]')
        [[ -n $prefix_value ]] && printf '  - {type: prefix, value: %s}\n' "$(yaml_quote "$prefix_value")"
      done
      printf '  upstreams: [{provider: %s, weight: 100}]\n' "$type"
      if [[ $type == "$fallback_primary" ]]; then
        printf '  fallback: {enabled: true, upstreams: [{provider: %s}]}\n' "$fallback_secondary"
      fi
    done
  } >"$file"
}

apply_config() {
  ((${#chosen[@]} > 0)) || { note "no providers configured now: add them in the console later"; return 0; }
  local file
  file=$(mktemp "${TMPDIR:-/tmp}/switchyard-setup.XXXXXX")
  write_config "$file"
  say "writing ${#chosen[@]} provider(s) and their routes with switchyard config apply"
  if ! "$(bin_path)" config apply "$file" --data-dir "$data_dir" >&2; then
    rm -f "$file"
    die "the configuration was not accepted (see above); nothing was changed"
  fi
  rm -f "$file"
}

# --- Service ----------------------------------------------------------------------------------

ensure_token() {
  local file
  file=$(token_file)
  if [[ ! -s $file ]]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file"
    chmod 600 "$file"
  fi
}

# One KEY="value" line, quoted so that both systemd's EnvironmentFile and bash's `.` read paths
# with spaces or quotes correctly.
env_line() {
  local value=$2
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  value=${value//\$/\\\$}
  value=${value//\`/\\\`}
  printf '%s="%s"\n' "$1" "$value"
}

listen_env() {
  env_line SWITCHYARD_LISTEN "127.0.0.1:$port"
  env_line SWITCHYARD_ADMIN_LISTEN "127.0.0.1:$console_port"
  env_line SWITCHYARD_DATA_DIR "$data_dir"
  # Not read by the gateway: it lets start, restart and uninstall find a binary under --prefix.
  env_line SWITCHYARD_INSTALL_PREFIX "$prefix"
}

write_env_file() {
  { listen_env; env_line SWITCHYARD_ADMIN_TOKEN "$(cat "$(token_file)")"; } >"$data_dir/switchyard.env"
  chmod 600 "$data_dir/switchyard.env"
}

# The value of a KEY="value" line as env_line wrote it.
env_value() {
  local value=${1#*=}
  value=${value#\"}
  value=${value%\"}
  value=${value//\\\`/\`}
  value=${value//\\\$/\$}
  value=${value//\\\"/\"}
  printf '%s' "${value//\\\\/\\}"
}

# Reads the ports and prefix of an existing installation, so day-to-day commands need no flags.
load_installed_settings() {
  local env_file="$data_dir/switchyard.env" line
  [[ -f $env_file ]] || return 0
  while IFS= read -r line; do
    case $line in
      SWITCHYARD_LISTEN=*) port=$(env_value "$line"); port=${port##*:} ;;
      SWITCHYARD_ADMIN_LISTEN=*) console_port=$(env_value "$line"); console_port=${console_port##*:} ;;
      SWITCHYARD_INSTALL_PREFIX=*) $prefix_given || prefix=$(env_value "$line") ;;
    esac
  done <"$env_file"
}

install_systemd_unit() {
  mkdir -p "$(dirname "$(unit_file)")"
  cat >"$(unit_file)" <<EOF
[Unit]
Description=Switchyard AI gateway
After=network-online.target

[Service]
EnvironmentFile=$data_dir/switchyard.env
ExecStart=$(bin_path) serve
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
EOF
  systemctl --user daemon-reload
}

supervisor_running() {
  local pid
  [[ -f $(pid_file) ]] || return 1
  pid=$(cat "$(pid_file)")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

start_service() {
  if systemd_available; then
    install_systemd_unit
    systemctl --user enable --now switchyard.service >/dev/null 2>&1 || systemctl --user restart switchyard.service
    systemctl --user restart switchyard.service
    note "running as the systemd user service switchyard.service"
    return
  fi
  supervisor_running && stop_service
  # A small supervisor restarts the gateway if it dies, like systemd's Restart=on-failure, and
  # stops it on TERM.
  local bin env_file log
  bin=$(bin_path); env_file="$data_dir/switchyard.env"; log=$(log_file)
  nohup bash -c '
    set -a; . "$1"; set +a
    child=0
    trap "kill -TERM \$child 2>/dev/null; wait \$child; exit 0" TERM INT
    while true; do
      "$2" serve & child=$!
      wait $child && exit 0
      sleep 2
    done' switchyard-supervisor "$env_file" "$bin" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pid_file)"
  note "running in the background (pid $(cat "$(pid_file)"), log $log)"
}

stop_service() {
  if systemd_available && [[ -f $(unit_file) ]]; then
    systemctl --user stop switchyard.service 2>/dev/null || true
  fi
  if supervisor_running; then
    local pid
    pid=$(cat "$(pid_file)")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$(pid_file)"
}

http_ok() {
  local url=$1
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
  else
    local host_port=${url#http://}; host_port=${host_port%%/*}; local path=/${url#http://*/}
    exec 3<>"/dev/tcp/${host_port%:*}/${host_port#*:}" 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host_port" >&3
    local status; IFS= read -r status <&3 || true; exec 3<&-
    [[ $status == *" 200 "* ]]
  fi
}

wait_until_live() {
  local url="http://127.0.0.1:$console_port/api/health/live"
  say "waiting for the gateway to answer at $url"
  for _ in $(seq 1 150); do
    http_ok "$url" && return 0
    sleep 0.2
  done
  die "the gateway did not start within 30 s; see: $0 logs"
}

# A real model name for a routed prefix, for the summary's example.
example_model() {
  case $1 in
    gpt-) echo gpt-4o-mini ;;
    o1 | o3 | o4) echo "$1-mini" ;;
    deepseek-) echo deepseek-chat ;;
    qwen) echo qwen-turbo ;;
    claude-) echo claude-sonnet-4-5 ;;
    gemini-) echo gemini-2.5-flash ;;
    moonshot-) echo moonshot-v1-8k ;;
    kimi-) echo kimi-k2-0905-preview ;;
    glm-) echo glm-4-flash ;;
    mistral-) echo mistral-small-latest ;;
    grok-) echo grok-3-mini ;;
    *-) echo "${1}model" ;;
    *) echo "$1" ;;
  esac
}

print_summary() {
  local example=""
  if ((${#chosen[@]} > 0)); then
    local first=${chosen[0]} model
    IFS=',' read -ra prefixes <<<"${MODELS[$first]}"
    model=$(printf '%s' "${prefixes[0]}" | tr -d '[:space:]')
    example=$(example_model "$model")
  fi
  cat <<EOF

Switchyard is running.
  Console:   http://127.0.0.1:$console_port/  (first visit: choose the admin username and password)
  Proxy:     http://127.0.0.1:$port/v1  (OpenAI-compatible; Anthropic's API at /v1/messages)
  Admin API: Authorization: Bearer \$(cat $(token_file))
  Data:      $data_dir
EOF
  if [[ -n $example ]]; then
    cat <<EOF

Try it:
  curl http://127.0.0.1:$port/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"$example","messages":[{"role":"user","content":"Hello!"}]}'
EOF
  fi
  printf '\nDay to day: %s status | start | stop | restart | logs | uninstall\n' "$0"
}

# --- Commands ---------------------------------------------------------------------------------

cmd_install() {
  [[ -z $from_binary ]] && build "$(source_dir)"
  [[ -x $from_binary ]] || die "$from_binary is not an executable"
  mkdir -p "$data_dir"
  chmod 700 "$data_dir"
  install_binary
  # Provider flags mean "configure exactly these". Otherwise a terminal gets the guided setup, in
  # which keys found in the environment are offered; without one, the environment's keys are used.
  if ! $non_interactive && ! provider_flags_given && has_terminal; then
    guided_setup
    ask_fallback
  else
    collect_from_flags
    if ((${#chosen[@]} > 0)); then
      note "providers from flags and environment: ${chosen[*]}"
    elif ! $non_interactive; then
      note "no terminal to ask on: skipping the guided setup (add providers in the console)"
    fi
  fi
  ensure_token
  write_env_file
  apply_config
  if $start; then
    say "starting the gateway"
    start_service
    wait_until_live
    print_summary
  else
    note "not started (--no-start); start it with: $0 start"
  fi
}

cmd_uninstall() {
  load_installed_settings
  say "stopping and removing Switchyard"
  stop_service
  if [[ -f $(unit_file) ]]; then
    systemctl --user disable switchyard.service >/dev/null 2>&1 || true
    rm -f "$(unit_file)"
    systemctl --user daemon-reload >/dev/null 2>&1 || true
  fi
  rm -f "$(bin_path)"
  if $purge; then
    confirm "delete the data dir $data_dir (providers, keys, routes)?" && rm -rf "$data_dir"
    note "data deleted"
  else
    note "kept the data in $data_dir (use --purge to delete it)"
  fi
}

cmd_status() {
  load_installed_settings
  if http_ok "http://127.0.0.1:$console_port/api/health/live"; then
    echo "running: proxy http://127.0.0.1:$port/v1, console http://127.0.0.1:$console_port/"
  else
    echo "not running"
    return 3
  fi
}

cmd_logs() {
  if systemd_available && [[ -f $(unit_file) ]]; then
    journalctl --user -u switchyard.service -n 200 --no-pager
  else
    tail -n 200 "$(log_file)" 2>/dev/null || echo "no log yet at $(log_file)"
  fi
}

main() {
  parse_args "$@"
  case $command_name in
    install) cmd_install ;;
    uninstall) cmd_uninstall ;;
    status) cmd_status ;;
    start) load_installed_settings; start_service; wait_until_live; echo "started" ;;
    stop) stop_service; echo "stopped" ;;
    restart) load_installed_settings; stop_service; start_service; wait_until_live; echo "restarted" ;;
    logs) cmd_logs ;;
    *) die "unknown command $command_name (see --help)" ;;
  esac
}

main "$@"
