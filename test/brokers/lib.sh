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
  # said: the exit report below stays quiet (a file, so that a die in a $(...) counts too:
  # the subshell shares $$ with the script)
  : >"$MQBAK_SAID_FILE" 2>/dev/null || true
  exit 1
}

# Nothing fails in silence. A script that sources this file and stops on an unexpected failure
# (set -e: a command substitution that fails, a grep that matches nothing, a sed on a missing
# file, a tool that is not installed) says which command failed, where and with what status:
# the ERR trap notes the failing command, the EXIT trap prints it when the script ends with a
# failure that die did not already explain. Exits a script chooses (exit 2 after its usage
# line) are not reported. Scripts with an EXIT trap of their own call mqbak_exit_report in it.
# A script that starts a server sets MQBAK_CLEANUP_PID until it has recorded it: a failure in
# between stops that server rather than leaving it running unrecorded.
MQBAK_SAID_FILE=${TMPDIR:-/tmp}/.mqbak-said.$$
MQBAK_INNER_FILE=${TMPDIR:-/tmp}/.mqbak-inner.$$
MQBAK_FAILED=""
# -E: the ERR trap also runs in functions and in $(...); inherit_errexit: a failure inside a
# $(...) stops it there, instead of the rest running on (bash's default) with empty values
set -E
shopt -s inherit_errexit
mqbak_note_failure() {
  local what
  # fields apart by the unit separator (\x1f): not whitespace, so an empty field stays one
  what=$(printf '%s\x1f%s\x1f%s\x1f%s\x1f%s' "$@")
  # a $(...) is a subshell (same $$): its failure goes through a file to the script's report;
  # the first one written is the innermost (the $(...) around it fails after it)
  if ((BASH_SUBSHELL > 0)); then
    [[ -e $MQBAK_INNER_FILE ]] || printf '%s\n' "$what" >"$MQBAK_INNER_FILE" 2>/dev/null || true
  else MQBAK_FAILED=$what
  fi
}
trap 'mqbak_note_failure "$?" "${BASH_SOURCE[0]}" "$LINENO" "${FUNCNAME[0]:-}" "$BASH_COMMAND"' ERR
# mqbak_describe_failure RECORD: "exit status S at FILE:LINE (in FUNCTION): SOURCE LINE". The
# line as written in the file: bash's own record of a pipeline names only its last command.
mqbak_describe_failure() {
  local status file line fn cmd text=""
  IFS=$'\x1f' read -r status file line fn cmd <<<"$1"
  if [[ -r $file && $line =~ ^[0-9]+$ ]]; then
    local -a src
    mapfile -t src <"$file"
    text=${src[line - 1]:-}
    text=${text#"${text%%[![:space:]]*}"}
  fi
  printf 'exit status %s at %s:%s%s: %s' "$status" "${file##*/}" "$line" "${fn:+ (in $fn)}" "${text:-$cmd}"
}
mqbak_exit_report() {
  local rc=$1 inner=""
  # a server this run started and did not get to record: not left running after a failed start
  if ((rc != 0)) && [[ -n ${MQBAK_CLEANUP_PID:-} ]]; then stop_pid "$MQBAK_CLEANUP_PID" || true; fi
  [[ -e $MQBAK_INNER_FILE ]] && inner=$(<"$MQBAK_INNER_FILE")
  rm -f "$MQBAK_INNER_FILE"
  if [[ -e $MQBAK_SAID_FILE ]]; then
    rm -f "$MQBAK_SAID_FILE"
    return 0
  fi
  ((rc != 0)) && [[ -n $MQBAK_FAILED ]] || return 0
  printf '%s: error: failed with %s\n' "${0##*/}" "$(mqbak_describe_failure "$MQBAK_FAILED")" >&2
  # inside a $(...) on another line (one on the same line is the command above)
  local file line outer_at inner_at
  IFS=$'\x1f' read -r _ file line _ <<<"$MQBAK_FAILED"
  outer_at=$file:$line
  IFS=$'\x1f' read -r _ file line _ <<<"$inner"
  inner_at=$file:$line
  if [[ -n $inner && $inner_at != "$outer_at" ]]; then
    printf '%s: the command that failed in it: %s\n' "${0##*/}" "$(mqbak_describe_failure "$inner")" >&2
  fi
  case ${inner:-$MQBAK_FAILED} in
    127$'\x1f'*) printf 'hint: a command it runs is not installed (bash named it above); install it and run again\n' >&2 ;;
    124$'\x1f'*) printf 'hint: a command it runs timed out; is the machine overloaded, or a server not answering?\n' >&2 ;;
    *) printf 'hint: this script did not expect that failure: the lines above are what it ran; please report them\n' >&2 ;;
  esac
}
trap 'mqbak_exit_report $?' EXIT

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

# True when COMMAND is on PATH, or in /usr/sbin (Debian puts servers there, off a user's PATH).
have_command() {
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]
}

# install_packages WHY PACKAGE...: Debian packages through apt-get, as root or through sudo -n.
# Says what it installs and why; on any failure, says what to run by hand. MQBAK_NO_INSTALL=1
# installs nothing and fails with that advice instead.
install_packages() {
  local why=$1 log
  shift
  local by_hand="apt-get install $*"
  [[ ${MQBAK_NO_INSTALL:-} != 1 ]] ||
    die "$why needs the Debian package(s) $*, which are not installed (MQBAK_NO_INSTALL=1: installing nothing); run: sudo $by_hand"
  command -v apt-get >/dev/null 2>&1 ||
    die "$why needs the Debian package(s) $*, and there is no apt-get here: install them with this system's package manager"
  if [[ $(id -u) -ne 0 ]] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    die "$why needs the Debian package(s) $*, and installing them needs root (no password-less sudo here); run: sudo $by_hand"
  fi
  printf '%s: installing %s (%s)\n' "${0##*/}" "$*" "$why" >&2
  log=$(mktemp)
  # DPkg::Lock::Timeout: wait for another apt-get (a parallel set-up, unattended-upgrades)
  # instead of failing at once on its lock
  if ! { run_as_root apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    run_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "could not install $* with apt-get (its last lines are above); run by hand: sudo $by_hand"
  fi
  rm -f "$log"
}

# ensure_commands WHY COMMAND=PACKAGE...: installs the package of each command that is missing
# (one apt-get run for all), then checks that every command is there.
ensure_commands() {
  local why=$1 pair cmd pkg
  shift
  local missing=() packages=()
  for pair in "$@"; do
    cmd=${pair%%=*}
    pkg=${pair#*=}
    have_command "$cmd" && continue
    missing+=("$cmd")
    [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  # one installer at a time (the set-ups of two test projects may start together): the second
  # finds what the first installed
  mkdir -p "$(mqbak_cache_dir)"
  exec 8>"$(mqbak_cache_dir)/.install.lock"
  flock 8
  packages=()
  for pair in "$@"; do
    cmd=${pair%%=*}
    pkg=${pair#*=}
    have_command "$cmd" || [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  done
  ((${#packages[@]})) && install_packages "$why" "${packages[@]}"
  exec 8>&-
  for cmd in "${missing[@]}"; do
    have_command "$cmd" || die "$cmd is still missing after installing ${packages[*]} (not on PATH=$PATH nor in /usr/sbin)"
  done
}

# A TCP port nobody listens on right now on 127.0.0.1 (Node is always there: the project needs it).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# check_port_free VARIABLE PORT: a port someone chose (VARIABLE names where) must be free; 0 and
# -1 (the server picks one) always are.
check_port_free() {
  local var=$1 port=$2
  [[ $port == 0 || $port == -1 ]] && return 0
  [[ $port =~ ^[0-9]+$ ]] && ((port < 65536)) || die "$var=$port: expected a TCP port number (1-65535), or leave it unset"
  if port_open 127.0.0.1 "$port"; then
    die "port $port of 127.0.0.1 ($var) is in use by another program$(port_owner "$port"): stop it, choose another port, or unset $var to let a free one be picked"
  fi
}

# " (PROGRAM, pid PID)" of what listens on 127.0.0.1:PORT, when ss can tell; else nothing.
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  local who
  who=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n1 | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1, pid \2/') || true
  [[ -n $who ]] && printf ' (%s)' "$who"
  return 0
}

# --- A test server that the scripts start in the background (nats.sh, s3rver.sh) -------------
# The script sets SERVER (its name in messages), PID_NEEDLE (a word of its command line),
# DATA_PREFIX (its data folders' name prefix in STATEDIR) and a function that sets STATE,
# PIDFILE, URLFILE, DATAFILE and LOGFILE; these functions do the rest alike for each.

server_running_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  pid_is "$pid" "$PID_NEEDLE" || return 1
  printf '%s\n' "$pid"
}

# Prints the URL of the one running under STATE and succeeds, if there is one.
server_reuse() {
  server_running_pid >/dev/null && [[ -s $URLFILE ]] && cat "$URLFILE"
}

# A new empty data folder in STATE (recorded, so that stop deletes it); prints its path.
server_new_data_dir() {
  local data
  data=$(mktemp -d "$STATE/$DATA_PREFIX.XXXXXX") || die "cannot make a data folder in $STATE (full disk, or no write access?)"
  printf '%s\n' "$data" >"$DATAFILE"
  printf '%s\n' "$data"
}

# server_wait_ready PID SECONDS READY_FUNCTION: waits until READY_FUNCTION prints what the
# server's log says it is ready on (READY_FUNCTION checks it answers); prints that. Says why when
# the server exits first or is not ready in time (kafka-mock.sh uses it too, with SERVER set).
server_wait_ready() {
  local pid=$1 secs=$2 ready=$3 value deadline=$((SECONDS + $2))
  while :; do
    # READY_FUNCTION prints nothing while the server is not ready; a failure of its own (a sed
    # on a missing log) is not "not ready yet": it stops the script and is reported
    value=$("$ready")
    [[ -n $value ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$LOGFILE" >&2
      die "$SERVER exited at start (its log is above)"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$pid"
      die "$SERVER was not ready within $secs s (log: $LOGFILE); is the machine overloaded?"
    fi
    sleep 0.1
  done
  printf '%s\n' "$value"
}

# server_started PID URL: records the server and prints its URL.
server_started() {
  printf '%s\n' "$1" >"$PIDFILE"
  printf '%s\n' "$2" | tee "$URLFILE"
  MQBAK_CLEANUP_PID=""
}

server_stop() {
  local pid data
  if pid=$(server_running_pid); then stop_pid "$pid"; fi
  if [[ -f $DATAFILE ]]; then
    data=$(<"$DATAFILE")
    # only ever delete a folder these scripts created
    [[ $data == "$STATE/$DATA_PREFIX".* ]] && rm -rf "$data"
  fi
  rm -f "$PIDFILE" "$URLFILE" "$DATAFILE"
}

server_status() {
  local pid
  if pid=$(server_running_pid) && [[ -s $URLFILE ]]; then
    printf 'running %s pid %s\n' "$(<"$URLFILE")" "$pid"
  else
    echo "not running"
    return 1
  fi
}

# server_main ARGS...: the start | stop | status [STATEDIR] commands, with cmd_start of the
# script; SERVER_USAGE names more commands the script handles before calling this.
server_main() {
  case ${1:-} in
    start) cmd_start "${2:-}" ;;
    stop) state_paths "${2:-}" && server_stop ;;
    status) state_paths "${2:-}" && { server_status || exit 1; } ;;
    *)
      echo "usage: ${0##*/} ${SERVER_USAGE:-}start [STATEDIR] | stop [STATEDIR] | status [STATEDIR]" >&2
      exit 2
      ;;
  esac
}
