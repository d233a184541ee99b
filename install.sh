#!/usr/bin/env bash
# Switchyard installer: builds the gateway from source, installs the binary, asks for provider
# keys (or takes them from the environment or standard input, never from the command line),
# writes them with `switchyard config apply`, and starts the gateway as a systemd user service or
# a supervised background process.
#
#   ./install.sh                      from a checkout
#   curl -fsSL <raw-url>/install.sh | bash
#   ./install.sh uninstall [--purge] | status | start | stop | restart | logs
#
# Run `./install.sh --help` for every option. The installation (prefix, data dir, ports, service
# mode) is recorded in ${XDG_CONFIG_HOME:-~/.config}/switchyard/install.env, so the day-to-day
# commands need no flags. Keys are never echoed, logged, put on a command line or written to a
# temporary file; the data dir is created with mode 0700.
set -euo pipefail
umask 077

# Files the installer creates only for a moment: removed on any exit, interrupts included.
TEMP_FILES=()
cleanup() {
  local file
  for file in ${TEMP_FILES[@]+"${TEMP_FILES[@]}"}; do rm -f -- "$file"; done
  TEMP_FILES=()
}
trap cleanup EXIT
trap 'cleanup; trap - INT; exit 130' INT
trap 'cleanup; trap - TERM; exit 143' TERM

SWITCHYARD_REPO="${SWITCHYARD_REPO:-https://github.com/switchyard-gateway/switchyard.git}"
SWITCHYARD_REF="${SWITCHYARD_REF:-main}"

# Provider types the guided setup offers, in the console's order (frontier labs, China, inference
# clouds, self-hosted), with the environment variable that may hold a key, the default model
# prefixes routed to them (empty means "ask") and the model a fallback to the type asks for.
# TYPES, DEFAULT_MODEL, NEEDS_BASE_URL and KEY_OPTIONAL repeat the Rust preset table
# (shared/src/provider_type/): shared/tests/installer_presets.rs fails when they drift apart.
TYPES=(
  openai anthropic gemini azure xai mistral cohere ai21
  deepseek qwen moonshot zhipu baidu hunyuan minimax doubao spark stepfun yi baichuan ai360 siliconflow
  groq together fireworks openrouter perplexity github nvidia cerebras sambanova deepinfra cloudflare
  hyperbolic novita nebius huggingface bedrock vertex
  ollama vllm lmstudio llamacpp localai tgi openai-compatible
)
declare -A KEY_ENV=(
  [openai]=OPENAI_API_KEY [anthropic]=ANTHROPIC_API_KEY [gemini]=GEMINI_API_KEY
  [azure]=AZURE_OPENAI_API_KEY [xai]=XAI_API_KEY [mistral]=MISTRAL_API_KEY [cohere]=COHERE_API_KEY
  [ai21]=AI21_API_KEY
  [deepseek]=DEEPSEEK_API_KEY [qwen]=DASHSCOPE_API_KEY [moonshot]=MOONSHOT_API_KEY
  [zhipu]=ZHIPUAI_API_KEY [baidu]=QIANFAN_API_KEY [hunyuan]=HUNYUAN_API_KEY [minimax]=MINIMAX_API_KEY
  [doubao]=ARK_API_KEY [spark]=SPARK_API_KEY [stepfun]=STEPFUN_API_KEY [yi]=YI_API_KEY
  [baichuan]=BAICHUAN_API_KEY [ai360]=AI360_API_KEY [siliconflow]=SILICONFLOW_API_KEY
  [groq]=GROQ_API_KEY [together]=TOGETHER_API_KEY [fireworks]=FIREWORKS_API_KEY
  [openrouter]=OPENROUTER_API_KEY [perplexity]=PERPLEXITY_API_KEY [github]=GITHUB_MODELS_API_KEY
  [nvidia]=NVIDIA_API_KEY [cerebras]=CEREBRAS_API_KEY [sambanova]=SAMBANOVA_API_KEY
  [deepinfra]=DEEPINFRA_API_KEY [cloudflare]=CLOUDFLARE_WORKERS_AI_API_KEY
  [hyperbolic]=HYPERBOLIC_API_KEY [novita]=NOVITA_API_KEY [nebius]=NEBIUS_API_KEY
  [huggingface]=HUGGINGFACE_API_KEY [bedrock]=BEDROCK_API_KEY [vertex]=VERTEX_API_KEY
  [ollama]=OLLAMA_API_KEY [vllm]=VLLM_API_KEY [lmstudio]=LMSTUDIO_API_KEY
  [llamacpp]=LLAMACPP_API_KEY [localai]=LOCALAI_API_KEY [tgi]=TGI_API_KEY
  [openai-compatible]=OPENAI_COMPATIBLE_API_KEY
)
declare -A DEFAULT_PREFIXES=(
  [openai]="gpt-,o1,o3,o4" [anthropic]="claude-" [gemini]="gemini-" [azure]="" [xai]="grok-"
  [mistral]="mistral-,codestral-" [cohere]="command-" [ai21]="jamba-"
  [deepseek]="deepseek-" [qwen]="qwen" [moonshot]="moonshot-,kimi-" [zhipu]="glm-" [baidu]="ernie-"
  [hunyuan]="hunyuan-" [minimax]="MiniMax-" [doubao]="doubao-" [spark]="" [stepfun]="step-"
  [yi]="yi-" [baichuan]="Baichuan" [ai360]="360" [siliconflow]=""
  [groq]="" [together]="" [fireworks]="" [openrouter]="" [perplexity]="sonar" [github]="" [nvidia]=""
  [cerebras]="" [sambanova]="" [deepinfra]="" [cloudflare]="@cf/" [hyperbolic]="" [novita]=""
  [nebius]="" [huggingface]="" [bedrock]="" [vertex]=""
  [ollama]="" [vllm]="" [lmstudio]="" [llamacpp]="" [localai]="" [tgi]="" [openai-compatible]=""
)
declare -A DEFAULT_MODEL=(
  [openai]="gpt-4o-mini" [anthropic]="claude-haiku-4-5" [gemini]="gemini-2.5-flash" [azure]=""
  [xai]="grok-4.3" [mistral]="mistral-small-latest" [cohere]="command-r7b-12-2024" [ai21]="jamba-mini"
  [deepseek]="deepseek-chat" [qwen]="qwen-plus" [moonshot]="kimi-k2.5" [zhipu]="glm-4.5-flash"
  [baidu]="ernie-4.5-turbo-128k" [hunyuan]="hunyuan-turbos-latest" [minimax]="MiniMax-M3"
  [doubao]="doubao-seed-1-6-flash-250828" [spark]="generalv3.5" [stepfun]="step-3.5-flash"
  [yi]="yi-lightning" [baichuan]="Baichuan-M3-Plus" [ai360]="360gpt2-pro"
  [siliconflow]="deepseek-ai/DeepSeek-V3.2"
  [groq]="llama-3.3-70b-versatile" [together]="meta-llama/Llama-3.3-70B-Instruct-Turbo"
  [fireworks]="accounts/fireworks/models/gpt-oss-120b" [openrouter]="openai/gpt-4o-mini"
  [perplexity]="sonar" [github]="openai/gpt-4o-mini" [nvidia]="meta/llama-3.3-70b-instruct"
  [cerebras]="gpt-oss-120b" [sambanova]="Meta-Llama-3.3-70B-Instruct"
  [deepinfra]="meta-llama/Llama-3.3-70B-Instruct-Turbo"
  [cloudflare]="@cf/meta/llama-3.3-70b-instruct-fp8-fast" [hyperbolic]="meta-llama/Llama-3.3-70B-Instruct"
  [novita]="meta-llama/llama-3.3-70b-instruct" [nebius]="meta-llama/Llama-3.3-70B-Instruct"
  [huggingface]="openai/gpt-oss-120b" [bedrock]="amazon.nova-lite-v1:0" [vertex]="gemini-2.5-flash"
  [ollama]="llama3.2" [vllm]="" [lmstudio]="" [llamacpp]="" [localai]="" [tgi]="tgi" [openai-compatible]=""
)
declare -A NEEDS_BASE_URL=([azure]=1 [cloudflare]=1 [openai-compatible]=1 [vertex]=1)
declare -A KEY_OPTIONAL=(
  [ollama]=1 [vllm]=1 [lmstudio]=1 [llamacpp]=1 [localai]=1 [tgi]=1 [openai-compatible]=1
)

# How long to look for the server's one-time setup code in its log after it answers.
SETUP_CODE_WAIT_SECONDS=3
# How long a gateway may take to stop gracefully (its own drain limit is 30 s) before it is killed.
STOP_GRACE_SECONDS=35

# Options.
command_name=install
non_interactive=false
assume_yes=false
prefix="${HOME}/.local"
prefix_given=false
data_dir="${SWITCHYARD_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/switchyard}"
data_dir_given=false
port=8080
port_given=false
console_port=8001
console_port_given=false
start=true
purge=false
from_binary=""
use_systemd=auto
keys_from_stdin=false
# How the gateway is started (systemd or supervised), and how the recorded installation runs now.
service_mode=""
recorded_mode=""
# Keys from the environment and from standard input, by provider type.
declare -A ENV_KEY=() STDIN_KEY=() CLI_MODELS=() CLI_BASE_URL=()

if [[ -t 2 ]]; then bold=$'\033[1m' yellow=$'\033[33m' red=$'\033[31m' plain=$'\033[0m'; else bold='' yellow='' red='' plain=''; fi
say() { printf '%s==>%s %s\n' "$bold" "$plain" "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$yellow" "$plain" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$red" "$plain" "$*" >&2; exit 1; }

record_file() { printf '%s/switchyard/install.env' "${XDG_CONFIG_HOME:-$HOME/.config}"; }

usage() {
  local type
  cat <<EOF
Usage: install.sh [install] [options]
       install.sh status | start | stop | restart | logs
       install.sh uninstall [--purge]

The day-to-day commands need no flags: they act on the installation recorded in
$(record_file) (prefix, data dir, ports, service mode).

Options:
  --non-interactive        take everything from the environment, standard input and flags; ask nothing
  --yes                    answer yes to confirmations
  --prefix DIR             install the binary into DIR/bin (default ~/.local)
  --data-dir DIR           where the database lives (default $data_dir)
  --port N                 proxy port (default 8080)
  --console-port N         console and admin API port (default 8001)
  --no-start               install and configure, but do not start the gateway
  --no-systemd             use a supervised background process even if systemd is there
  --from-binary PATH       install this prebuilt switchyard binary instead of building
  --keys-from-stdin        read provider keys from standard input: one TYPE=KEY (or VARIABLE=KEY)
                           a line; blank lines and lines starting with # are skipped
  --TYPE-models A,B        model prefixes routed to TYPE (e.g. --openai-models gpt-,o3)
  --TYPE-base-url URL      base URL for TYPE (required for azure, cloudflare and openai-compatible)
  --purge                  with uninstall: also delete the data dir

Provider keys are never taken from the command line (ps shows it to every user of the machine,
and the shell keeps it in its history). Give them
  - in the environment, in the variable of their type (listed below), e.g.
      read -rs DEEPSEEK_API_KEY && export DEEPSEEK_API_KEY && ./install.sh --non-interactive
  - on standard input with --keys-from-stdin, e.g. from a file only you can read:
      ./install.sh --non-interactive --keys-from-stdin < keys.txt   (lines like deepseek=sk-...)
  - or at the guided setup's hidden prompt (run ./install.sh in a terminal, without key options).
These variables are removed from the environment the gateway runs with.

Provider types and their key variables:
EOF
  for type in "${TYPES[@]}"; do printf '  %-18s %s\n' "$type" "${KEY_ENV[$type]}"; done
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
      --data-dir) data_dir=${2:?--data-dir needs a directory}; data_dir_given=true; shift ;;
      --port) port=${2:?--port needs a number}; port_given=true; shift ;;
      --console-port) console_port=${2:?--console-port needs a number}; console_port_given=true; shift ;;
      --no-start) start=false ;;
      --no-systemd) use_systemd=no ;;
      --purge) purge=true ;;
      --from-binary) from_binary=${2:?--from-binary needs a path}; shift ;;
      --keys-from-stdin) keys_from_stdin=true ;;
      --*-key)
        # Refused before anything happens, and the value that follows is never repeated.
        local type=${arg#--}
        type=${type%-key}
        is_type "$type" || die "unknown option $arg (see --help)"
        die "$arg is no longer accepted: a key on the command line is visible to every user in ps and stays in your shell history. Give it
    in the environment:   read -rs ${KEY_ENV[$type]} && export ${KEY_ENV[$type]} && $0 ...
    or on standard input: $0 --keys-from-stdin ... < keys.txt   (lines like $type=KEY)
    (see --help). A key typed on a command line is in your shell history now: delete that entry (history -d N) or rotate the key."
        ;;
      --*-models | --*-base-url)
        local name=${arg#--} type field
        case $name in
          *-base-url) type=${name%-base-url}; field=base_url ;;
          *) type=${name%-models}; field=models ;;
        esac
        is_type "$type" || die "unknown provider type in $arg (known: ${TYPES[*]})"
        [[ $# -ge 2 ]] || die "$arg needs a value"
        case $field in
          models) CLI_MODELS[$type]=$2 ;;
          base_url) CLI_BASE_URL[$type]=$2 ;;
        esac
        shift
        ;;
      *) die "unknown option $arg (see --help)" ;;
    esac
    shift
  done
  [[ $port =~ ^[0-9]+$ && $console_port =~ ^[0-9]+$ ]] || die "ports must be numbers"
}

# Takes the provider keys out of the environment and removes them from it, so that no process the
# installer starts (the gateway above all) inherits them.
take_keys_from_environment() {
  local type variable
  for type in "${TYPES[@]}"; do
    variable=${KEY_ENV[$type]}
    [[ -n ${!variable:-} ]] && ENV_KEY[$type]=${!variable}
    unset "$variable"
  done
}

# Strips leading and trailing whitespace.
trim() {
  local value=$1
  value=${value#"${value%%[![:space:]]*}"}
  printf '%s' "${value%"${value##*[![:space:]]}"}"
}

# Reads TYPE=KEY (or VARIABLE=KEY) lines from standard input, for --keys-from-stdin. Errors name
# the line, never its key.
read_keys_from_stdin() {
  [[ -n ${BASH_SOURCE[0]:-} ]] || die "--keys-from-stdin cannot be used while the script itself comes through a pipe: download install.sh first, or give the keys in the environment"
  [[ -t 0 ]] && die "--keys-from-stdin reads a pipe or a file (e.g. < keys.txt), not a terminal: to type keys at a hidden prompt, run ./install.sh without it"
  local line name value type found number=0
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=$(trim "${line%$'\r'}")
    [[ -z $line || $line == '#'* ]] && continue
    line=${line#export }
    [[ $line == *=* ]] || die "standard input, line $number: expected TYPE=KEY"
    name=$(trim "${line%%=*}")
    value=$(trim "${line#*=}")
    if ((${#value} >= 2)) && [[ $value == \"*\" || $value == \'*\' ]]; then
      value=${value:1:${#value}-2}
    fi
    found=""
    for type in "${TYPES[@]}"; do
      [[ $name == "$type" || $name == "${KEY_ENV[$type]}" ]] && found=$type
    done
    [[ -n $found ]] || die "standard input, line $number: unknown provider type '$name' (known: ${TYPES[*]})"
    [[ -n $value ]] || die "standard input, line $number: no key after $name="
    STDIN_KEY[$found]=$value
  done
}

# The key given for TYPE on standard input or in the environment, if any.
given_key() {
  printf '%s' "${STDIN_KEY[$1]:-${ENV_KEY[$1]:-}}"
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
gateway_pid_file() { printf '%s/switchyard-gateway.pid' "$data_dir"; }
log_file() { printf '%s/switchyard.log' "$data_dir"; }
token_file() { printf '%s/admin-token' "$data_dir"; }
unit_file() { printf '%s/systemd/user/switchyard.service' "${XDG_CONFIG_HOME:-$HOME/.config}"; }

# Whether systemctl can reach the user's service manager (regardless of --no-systemd).
systemctl_usable() {
  command -v systemctl >/dev/null 2>&1 || return 1
  systemctl --user show-environment >/dev/null 2>&1
}

systemd_available() {
  [[ $use_systemd == no ]] && return 1
  systemctl_usable
}

# --- The installation record ------------------------------------------------------------------

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

# Writes the record of this installation (mode 0600): what every later command acts on.
write_record() {
  local file dir tmp
  file=$(record_file)
  dir=$(dirname "$file")
  mkdir -p "$dir"
  chmod 700 "$dir"
  tmp=$(mktemp "$dir/.install.env.XXXXXX")
  TEMP_FILES+=("$tmp")
  {
    printf '# Written by install.sh: the installation its commands act on. Re-run install.sh to change it.\n'
    env_line SWITCHYARD_INSTALL_PREFIX "$prefix"
    env_line SWITCHYARD_INSTALL_DATA_DIR "$data_dir"
    env_line SWITCHYARD_INSTALL_PORT "$port"
    env_line SWITCHYARD_INSTALL_CONSOLE_PORT "$console_port"
    env_line SWITCHYARD_INSTALL_SERVICE "$service_mode"
  } >"$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
}

# Reads the record into rec_* (without running it as code); fails if there is none.
rec_prefix="" rec_data_dir="" rec_port="" rec_console_port="" rec_service=""
read_record() {
  local file line
  file=$(record_file)
  [[ -f $file ]] || return 1
  while IFS= read -r line; do
    case $line in
      SWITCHYARD_INSTALL_PREFIX=*) rec_prefix=$(env_value "$line") ;;
      SWITCHYARD_INSTALL_DATA_DIR=*) rec_data_dir=$(env_value "$line") ;;
      SWITCHYARD_INSTALL_PORT=*) rec_port=$(env_value "$line") ;;
      SWITCHYARD_INSTALL_CONSOLE_PORT=*) rec_console_port=$(env_value "$line") ;;
      SWITCHYARD_INSTALL_SERVICE=*) rec_service=$(env_value "$line") ;;
    esac
  done <"$file"
  [[ -n $rec_prefix && -n $rec_data_dir && $rec_port =~ ^[0-9]+$ && $rec_console_port =~ ^[0-9]+$ ]] ||
    die "$file is damaged; re-run install.sh with your options (or delete the file)"
  [[ $rec_service == systemd || $rec_service == supervised ]] || rec_service=""
}

# Settles which installation a command acts on: flags first, then the record, then (for
# installations made before the record existed) the env file in the data dir, then the defaults.
resolve_installation() {
  if read_record && { ! $data_dir_given || [[ $data_dir == "$rec_data_dir" ]]; }; then
    $prefix_given || prefix=$rec_prefix
    $data_dir_given || data_dir=$rec_data_dir
    $port_given || port=$rec_port
    $console_port_given || console_port=$rec_console_port
    recorded_mode=$rec_service
  else
    local env_file="$data_dir/switchyard.env" line
    if [[ -f $env_file ]]; then
      while IFS= read -r line; do
        case $line in
          SWITCHYARD_LISTEN=*) $port_given || { port=$(env_value "$line"); port=${port##*:}; } ;;
          SWITCHYARD_ADMIN_LISTEN=*) $console_port_given || { console_port=$(env_value "$line"); console_port=${console_port##*:}; } ;;
          SWITCHYARD_INSTALL_PREFIX=*) $prefix_given || prefix=$(env_value "$line") ;;
        esac
      done <"$env_file"
    fi
    recorded_mode=""
    [[ -f $(unit_file) ]] && recorded_mode=systemd
  fi
  # How install, start and restart run it: as before unless --no-systemd, else as systemd allows.
  if [[ $use_systemd == no ]]; then
    service_mode=supervised
  elif [[ -n $recorded_mode && $command_name != install ]]; then
    service_mode=$recorded_mode
  elif systemd_available; then
    service_mode=systemd
  else
    service_mode=supervised
  fi
}

# --- Source and build -------------------------------------------------------------------------

source_dir() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" 2>/dev/null && pwd) || here=""
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
  TEMP_FILES+=("$target.new")
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

provider_options_given() {
  $keys_from_stdin || ((${#CLI_MODELS[@]} + ${#CLI_BASE_URL[@]} > 0))
}

collect_from_options() {
  local type key
  for type in "${TYPES[@]}"; do
    key=$(given_key "$type")
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
  # Three columns, numbered down the list as the console orders the types.
  local i row=""
  for i in "${!TYPES[@]}"; do
    row+=$(printf '  %2d) %-17s' $((i + 1)) "${TYPES[$i]}")
    if (((i + 1) % 3 == 0)); then
      printf '%s\n' "$row" >/dev/tty
      row=""
    fi
  done
  [[ -n $row ]] && printf '%s\n' "$row" >/dev/tty
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
    local key
    key=$(given_key "$type")
    if [[ -n $key ]]; then
      printf '  using the %s key from the environment (%s)\n' "$type" "${KEY_ENV[$type]}" >/dev/tty
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
# The model the fallback asks for; empty sends the client's model name on unchanged.
fallback_model=""

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
    return 0
  fi
  ask_fallback_model
}

# The fallback provider gets the client's model name, which another vendor rarely knows: ask for
# the model to send instead, offering the fallback type's default model.
ask_fallback_model() {
  local default=${DEFAULT_MODEL[$fallback_secondary]:-} prompt
  if [[ -n $default ]]; then
    prompt="  model for the fallback to $fallback_secondary [$default]: "
  else
    prompt="  model for the fallback to $fallback_secondary (Enter keeps the client's model name): "
  fi
  while true; do
    fallback_model=$(trim "$(ask "$prompt" "$default")")
    [[ $fallback_model != *[[:space:]]* ]] && return 0
    printf '  a model name has no spaces\n' >/dev/tty
  done
}

# Prints the collected setup as a config document for `switchyard config apply -`. Only shell
# builtins touch the keys, so they never appear on a command line.
write_config() {
  local type prefix_value
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
      prefix_value=${prefix_value//[[:space:]]/}
      [[ -n $prefix_value ]] && printf '  - {type: prefix, value: %s}\n' "$(yaml_quote "$prefix_value")"
    done
    printf '  upstreams: [{provider: %s, weight: 100}]\n' "$type"
    if [[ $type == "$fallback_primary" && -n $fallback_model ]]; then
      printf '  fallback: {enabled: true, upstreams: [{provider: %s, model: %s}]}\n' \
        "$fallback_secondary" "$(yaml_quote "$fallback_model")"
    elif [[ $type == "$fallback_primary" ]]; then
      printf '  fallback: {enabled: true, upstreams: [{provider: %s}]}\n' "$fallback_secondary"
    fi
  done
}

# Hands the configuration to `switchyard config apply` through a pipe: the keys never touch a
# file outside the store.
apply_config() {
  ((${#chosen[@]} > 0)) || { note "no providers configured now: add them in the console later"; return 0; }
  say "writing ${#chosen[@]} provider(s) and their routes with switchyard config apply"
  write_config | "$(bin_path)" config apply - --data-dir "$data_dir" >&2 ||
    die "the configuration was not accepted (see above); nothing was changed"
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

listen_env() {
  env_line SWITCHYARD_LISTEN "127.0.0.1:$port"
  env_line SWITCHYARD_ADMIN_LISTEN "127.0.0.1:$console_port"
  env_line SWITCHYARD_DATA_DIR "$data_dir"
}

write_env_file() {
  { listen_env; env_line SWITCHYARD_ADMIN_TOKEN "$(cat "$(token_file)")"; } >"$data_dir/switchyard.env"
  chmod 600 "$data_dir/switchyard.env"
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

# Whether PID runs (a zombie waiting to be reaped does not).
pid_alive() {
  local pid=$1 stat
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*") "}
    [[ ${stat:0:1} != [ZX] ]]
  fi
}

# The pid in FILE if that process runs and its command line contains PATTERN (a pid file can
# outlive its process, and the pid can be reused by another program).
live_pid() {
  local file=$1 pattern=$2 pid cmdline
  [[ -f $file ]] || return 0
  pid=$(<"$file") || return 0
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 0
  if [[ -r /proc/$pid/cmdline ]]; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  else
    cmdline=$(ps -o args= -p "$pid" 2>/dev/null) || return 0
  fi
  [[ $cmdline == *"$pattern"* ]] && printf '%s' "$pid"
  return 0
}

supervisor_pid() { live_pid "$(pid_file)" switchyard-supervisor; }
gateway_pid() { live_pid "$(gateway_pid_file)" switchyard; }

# The pids of PID's running children (for a supervisor started before it recorded its gateway).
children_of() {
  local parent=$1 stat pid fields
  if [[ -d /proc/self ]]; then
    for stat in /proc/[0-9]*/stat; do
      { IFS= read -r fields <"$stat"; } 2>/dev/null || continue
      pid=${fields%% *}
      fields=${fields##*") "}
      read -r _ fields _ <<<"$fields"
      [[ $fields == "$parent" ]] && pid_alive "$pid" && printf '%s\n' "$pid"
    done
  else
    ps -A -o pid= -o ppid= 2>/dev/null | while read -r pid fields; do
      [[ $fields == "$parent" ]] && printf '%s\n' "$pid"
    done
  fi
  return 0
}

# Waits up to SECONDS for every PID to end; fails if one still runs.
wait_gone() {
  local seconds=$1 pid left
  shift
  for _ in $(seq 1 $((seconds * 10))); do
    left=false
    for pid in "$@"; do pid_alive "$pid" && left=true; done
    $left || return 0
    sleep 0.1
  done
  return 1
}

# Stops the supervisor and the gateway and makes sure both have ended: TERM (the gateway drains
# its requests), then KILL for whatever is left.
stop_supervised() {
  local supervisor gateway pids=() pid
  supervisor=$(supervisor_pid)
  gateway=$(gateway_pid)
  [[ -n $supervisor ]] && pids+=("$supervisor")
  [[ -n $gateway ]] && pids+=("$gateway")
  if [[ -n $supervisor && -z $gateway ]]; then
    while IFS= read -r pid; do [[ -n $pid ]] && pids+=("$pid"); done < <(children_of "$supervisor")
  fi
  if ((${#pids[@]} > 0)); then
    # The supervisor stops its gateway; a gateway without one is stopped directly.
    kill -TERM "${pids[0]}" 2>/dev/null || true
    if ! wait_gone "$STOP_GRACE_SECONDS" "${pids[@]}"; then
      warn "the gateway did not stop within $STOP_GRACE_SECONDS s; killing it"
      for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
      if ! wait_gone 5 "${pids[@]}"; then
        warn "process(es) ${pids[*]} could not be stopped"
        return 1
      fi
    fi
  fi
  rm -f "$(pid_file)" "$(gateway_pid_file)"
}

# Stops the systemd user service and makes sure it is no longer active.
stop_systemd() {
  if ! systemctl_usable; then
    # Without a reachable user manager its services are not running either, unless systemctl
    # only lacks the way to it (e.g. after su): then the gateway still answers.
    if http_ok "http://127.0.0.1:$console_port/api/health/live"; then
      warn "the gateway runs as the systemd user service switchyard.service, but systemctl --user cannot reach your service manager (log in as this user directly, or set XDG_RUNTIME_DIR)"
      return 1
    fi
    return 0
  fi
  systemctl --user stop switchyard.service 2>/dev/null || true
  local state
  state=$(systemctl --user is-active switchyard.service 2>/dev/null || true)
  if [[ $state == active || $state == activating || $state == deactivating || $state == reloading ]]; then
    warn "switchyard.service is still $state after systemctl --user stop"
    return 1
  fi
}

# Stops the gateway however it runs; fails (and says why) if a process is left.
stop_service() {
  if [[ $recorded_mode == systemd || -f $(unit_file) ]]; then
    stop_systemd || return 1
  fi
  stop_supervised
}

start_service() {
  [[ -x $(bin_path) ]] || die "Switchyard is not installed: $(bin_path) is missing (run install.sh to install it)"
  stop_service || die "the running gateway could not be stopped"
  if http_ok "http://127.0.0.1:$console_port/api/health/live"; then
    die "something else already answers on port $console_port (another Switchyard?); stop it, or choose other ports with --port and --console-port"
  fi
  if [[ $service_mode == systemd ]]; then
    install_systemd_unit
    systemctl --user enable --now switchyard.service >/dev/null 2>&1 || systemctl --user restart switchyard.service
    note "running as the systemd user service switchyard.service"
    return
  fi
  # A unit left from an earlier systemd installation would start a second gateway at login.
  remove_systemd_unit
  # A small supervisor restarts the gateway if it dies, like systemd's Restart=on-failure, and
  # stops it on TERM. It records the gateway's pid, so that stop can make sure it has ended. The
  # provider keys' variables were removed from the environment it inherits.
  local bin env_file log
  bin=$(bin_path); env_file="$data_dir/switchyard.env"; log=$(log_file)
  # shellcheck disable=SC2016 # the supervisor's script expands its own variables
  nohup bash -c '
    set -a; . "$1"; set +a
    child=0
    trap "kill -TERM \$child 2>/dev/null; wait \$child; rm -f \"\$3\"; exit 0" TERM INT
    while true; do
      "$2" serve & child=$!
      echo "$child" >"$3"
      wait "$child" && { rm -f "$3"; exit 0; }
      sleep 2 & wait $!
    done' switchyard-supervisor "$env_file" "$bin" "$(gateway_pid_file)" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pid_file)"
  note "running in the background (pid $(cat "$(pid_file)"), log $log)"
}

remove_systemd_unit() {
  [[ -f $(unit_file) ]] || return 0
  systemctl_usable && systemctl --user disable switchyard.service >/dev/null 2>&1
  rm -f "$(unit_file)"
  systemctl_usable && systemctl --user daemon-reload >/dev/null 2>&1
  return 0
}

http_get() {
  local url=$1
  if command -v curl >/dev/null; then
    curl -fsS --max-time 2 "$url" 2>/dev/null
  else
    local host_port=${url#http://}; host_port=${host_port%%/*}; local path=/${url#http://*/}
    exec 3<>"/dev/tcp/${host_port%:*}/${host_port#*:}" 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host_port" >&3
    local status line
    IFS= read -r status <&3 || true
    [[ $status == *" 200 "* ]] || { exec 3<&-; return 1; }
    while IFS= read -r line <&3 && [[ $line != $'\r' && -n $line ]]; do :; done
    cat <&3
    exec 3<&-
  fi
}

http_ok() { http_get "$1" >/dev/null; }

wait_until_live() {
  local url="http://127.0.0.1:$console_port/api/health/live"
  say "waiting for the gateway to answer at $url"
  for _ in $(seq 1 150); do
    http_ok "$url" && return 0
    sleep 0.2
  done
  die "the gateway did not start within 30 s; see: $0 logs"
}

# --- The one-time setup code --------------------------------------------------------------------

# While no admin account exists, the server prints `setup code: XXXX-XXXX-XXXX` on its standard
# output; the console's first-run setup asks for it. log_mark notes where the log ends before a
# start, so that only a code printed by this start is shown.
log_mark=""
mark_log() {
  if [[ $service_mode == systemd ]]; then
    log_mark=$(date +%s)
  else
    log_mark=0
    [[ -f $(log_file) ]] && log_mark=$(wc -c <"$(log_file)")
    log_mark=${log_mark//[[:space:]]/}
  fi
}

# What the gateway wrote since mark_log.
log_since_mark() {
  if [[ $service_mode == systemd ]]; then
    journalctl --user -u switchyard.service --since "@$log_mark" -o cat --no-pager 2>/dev/null || true
  else
    local log size
    log=$(log_file)
    [[ -f $log ]] || return 0
    size=$(wc -c <"$log")
    # A log shorter than the mark was replaced: all of it is new.
    if ((size < log_mark)); then cat "$log"; else tail -c +$((log_mark + 1)) "$log"; fi
  fi
}

# The last setup code in LOG text: a whole line of exactly the form `setup code: XXXX-XXXX-XXXX`.
setup_code_in() {
  local line code="" form='^setup code: ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})$'
  while IFS= read -r line; do
    line=${line%$'\r'}
    [[ $line =~ $form ]] && code=${BASH_REMATCH[1]}
  done <<<"$1"
  printf '%s' "$code"
}

# The setup code this start printed, or nothing: waits a few seconds for it unless the server
# says that setup is done (an admin exists).
setup_code=""
find_setup_code() {
  setup_code=""
  local me
  if me=$(http_get "http://127.0.0.1:$console_port/api/auth/me") && [[ $me == *'"setup_required":false'* ]]; then
    return 0
  fi
  for _ in $(seq 1 $((SETUP_CODE_WAIT_SECONDS * 5))); do
    setup_code=$(setup_code_in "$(log_since_mark)")
    [[ -n $setup_code ]] && return 0
    sleep 0.2
  done
}

setup_code_line() {
  [[ -n $setup_code ]] && printf '  Setup code: %s  (needed once, for the console'"'"'s first-run setup)\n' "$setup_code"
  return 0
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
    model=${prefixes[0]//[[:space:]]/}
    example=$(example_model "$model")
  fi
  cat <<EOF

Switchyard is running.
  Console:   http://127.0.0.1:$console_port/  (first visit: choose the admin username and password)
EOF
  setup_code_line
  cat <<EOF
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
  printf '\nDay to day (no flags needed; the installation is recorded in %s):\n  %s status | start | stop | restart | logs | uninstall\n' "$(record_file)" "$0"
}

# --- Commands ---------------------------------------------------------------------------------

# Stops the installation in DATA_DIR with PREFIX, CONSOLE_PORT and MODE (not the current one).
stop_installation() {
  local data_dir=$1 prefix=$2 console_port=$3 recorded_mode=$4
  stop_service
}

# A re-run that moves the installation (another data dir or prefix) first stops the recorded one,
# which no command could reach afterwards.
stop_moved_installation() {
  read_record || return 0
  [[ $rec_data_dir == "$data_dir" && $rec_prefix == "$prefix" ]] && return 0
  say "stopping the previous installation (data $rec_data_dir, binary $rec_prefix/bin/switchyard)"
  stop_installation "$rec_data_dir" "$rec_prefix" "$rec_console_port" "$rec_service" ||
    die "the previous installation's gateway could not be stopped; stop it, then run this again"
  note "its binary and data are left in place"
}

cmd_install() {
  [[ -z $from_binary ]] && build "$(source_dir)"
  [[ -x $from_binary ]] || die "$from_binary is not an executable"
  stop_moved_installation
  mkdir -p "$data_dir"
  chmod 700 "$data_dir"
  install_binary
  write_record
  # Key options mean "configure exactly these". Otherwise a terminal gets the guided setup, in
  # which keys found in the environment are offered; without one, the environment's keys are used.
  if ! $non_interactive && ! provider_options_given && has_terminal; then
    guided_setup
    ask_fallback
  else
    collect_from_options
    if ((${#chosen[@]} > 0)); then
      note "providers from the environment, standard input and options: ${chosen[*]}"
    elif ! $non_interactive; then
      note "no terminal to ask on: skipping the guided setup (add providers in the console)"
    fi
  fi
  ensure_token
  write_env_file
  apply_config
  if $start; then
    say "starting the gateway"
    mark_log
    start_service
    wait_until_live
    find_setup_code
    print_summary
  else
    note "not started (--no-start); start it with: $0 start"
  fi
}

# start and restart: (re)writes the service's settings and the record from the options, then starts.
cmd_start() {
  [[ -x $(bin_path) ]] || die "Switchyard is not installed: $(bin_path) is missing (run install.sh to install it)"
  [[ -d $data_dir ]] || die "the data dir $data_dir does not exist (run install.sh to set it up)"
  stop_moved_installation
  ensure_token
  write_env_file
  write_record
  mark_log
  start_service
  wait_until_live
  find_setup_code
  echo "$1: proxy http://127.0.0.1:$port/v1, console http://127.0.0.1:$console_port/"
  setup_code_line
}

cmd_stop() {
  stop_service || die "the gateway could not be stopped (see above)"
  echo "stopped"
}

cmd_uninstall() {
  say "stopping and removing Switchyard (binary $(bin_path), data $data_dir)"
  stop_service || die "the gateway could not be stopped, so nothing was removed; stop it (see above), then run uninstall again"
  remove_systemd_unit
  rm -f "$(bin_path)" "$(bin_path).new"
  note "stopped, and removed $(bin_path)"
  if $purge && confirm "delete the data dir $data_dir (providers, keys, routes)?"; then
    case $data_dir in
      "" | / | "$HOME" | "$HOME/") die "refusing to delete $data_dir" ;;
    esac
    rm -rf -- "$data_dir"
    rm -f "$(record_file)"
    rmdir "$(dirname "$(record_file)")" 2>/dev/null || true
    note "data deleted"
  else
    # The record stays, so a later install reuses the data and ports, and uninstall --purge finds it.
    note "kept the data in $data_dir (uninstall --purge deletes it)"
  fi
}

cmd_status() {
  if [[ ! -x $(bin_path) ]]; then
    if [[ -d $data_dir ]]; then
      echo "not installed (data kept in $data_dir)"
    else
      echo "not installed"
    fi
    return 3
  fi
  if http_ok "http://127.0.0.1:$console_port/api/health/live"; then
    echo "running: proxy http://127.0.0.1:$port/v1, console http://127.0.0.1:$console_port/"
  else
    echo "not running (proxy port $port, console port $console_port)"
  fi
  local supervisor gateway
  if [[ $recorded_mode == systemd ]]; then
    echo "  service: systemd user service switchyard.service"
  else
    supervisor=$(supervisor_pid)
    gateway=$(gateway_pid)
    echo "  service: supervised${supervisor:+ (supervisor pid $supervisor${gateway:+, gateway pid $gateway})}, log $(log_file)"
  fi
  echo "  binary:  $(bin_path)"
  echo "  data:    $data_dir"
  http_ok "http://127.0.0.1:$console_port/api/health/live" || return 3
}

cmd_logs() {
  if [[ $recorded_mode == systemd ]]; then
    journalctl --user -u switchyard.service -n 200 --no-pager
  else
    tail -n 200 "$(log_file)" 2>/dev/null || echo "no log yet at $(log_file)"
  fi
}

main() {
  parse_args "$@"
  take_keys_from_environment
  if $keys_from_stdin; then
    [[ $command_name == install ]] || die "--keys-from-stdin is an install option"
    read_keys_from_stdin
  fi
  resolve_installation
  case $command_name in
    install) cmd_install ;;
    uninstall) cmd_uninstall ;;
    status) cmd_status ;;
    start) cmd_start started ;;
    stop) cmd_stop ;;
    restart) cmd_start restarted ;;
    logs) cmd_logs ;;
    *) die "unknown command $command_name (see --help)" ;;
  esac
}

main "$@"
