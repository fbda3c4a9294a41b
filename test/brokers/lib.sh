# Shared by the test broker scripts (sourced, not run). Bash only.

# Where the long-lived test brokers keep their pid files: outside the clone, so a second clone
# (or CI's fresh clone) finds and reuses what is already running instead of starting twins.
mqbak_state_dir() {
  local base=${XDG_RUNTIME_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}}
  printf '%s/mqbak/run\n' "$base"
}

mqbak_cache_dir() {
  printf '%s/mqbak\n' "${XDG_CACHE_HOME:-$HOME/.cache}"
}

die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# True when something accepts TCP connections on host:port (bash's /dev/tcp: no nc needed).
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
port_closed() { ! port_open "$@"; }

# True when an HTTP GET answers 2xx. Optional third argument: user:password for basic auth.
# curl when present, else Node (always there: the project needs it).
http_ok() {
  local url=$1 auth=${2:-}
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 3 ${auth:+-u "$auth"} "$url" 2>/dev/null
  else
    MQBAK_URL=$url MQBAK_AUTH=$auth node -e '
      const h = process.env.MQBAK_AUTH ? { authorization: "Basic " + Buffer.from(process.env.MQBAK_AUTH).toString("base64") } : {};
      fetch(process.env.MQBAK_URL, { headers: h, signal: AbortSignal.timeout(3000) })
        .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' 2>/dev/null
  fi
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.25 s; fails with DESCRIPTION.
wait_until() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      printf '%s: error: timed out after %ss waiting for %s\n' "${0##*/}" "$secs" "$what" >&2
      return 1
    fi
    sleep 0.25
  done
}

# True when PID is alive and its command line contains NEEDLE (guards against a recycled pid).
pid_is() {
  local pid=$1 needle=$2
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# run_as_root CMD...: apt-get needs root; use sudo when we are not root and it is there.
run_as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root to run: $* (no sudo)"
  fi
}
