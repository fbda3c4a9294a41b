#!/usr/bin/env bash
# The Kafka-protocol test broker (librdkafka mock cluster, see kafka-mock/README.md).
#
#   kafka-mock.sh build              build once (about a minute), cached outside the clone; prints
#                                    the path of the mockd binary
#   kafka-mock.sh start [STATEDIR]   run one long-lived mockd in the background; prints its
#                                    bootstrap address (host:port); reuses a running one
#   kafka-mock.sh stop [STATEDIR]    stop the mockd that start started
#   kafka-mock.sh status [STATEDIR]  print "running <bootstrap> pid <pid>" (exit 0) or "not running" (exit 1)
#
# The cache is ${XDG_CACHE_HOME:-~/.cache}/mqbak/kafka-mock/<key>/ where <key> hashes the build
# script, mockd.c and patches/*.patch: changing any of them builds a new broker.
# STATEDIR defaults to ${XDG_RUNTIME_DIR:-${XDG_CACHE_HOME:-~/.cache}}/mqbak/run.
# Data lives in RAM only: stop loses every topic. The started broker's stdin is /dev/null, so
# topics with a chosen partition count need the CreateTopics API (or tests' own mockd, whose
# stdin the test set-up keeps).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
SRC=$HERE/kafka-mock

cache_key() {
  # names and contents, in a fixed order, so renaming or reordering patches changes the key too
  (
    cd "$SRC"
    shopt -s nullglob
    for f in setup-kafka-mock.sh mockd.c patches/*.patch; do
      printf '%s\0' "$f"
      sha256sum <"$f"
    done
  ) | sha256sum | cut -c1-16
}

cmd_build() {
  local root key dir tmp
  root=$(mqbak_cache_dir)/kafka-mock
  key=$(cache_key)
  [[ $key =~ ^[0-9a-f]{16}$ ]] || die "could not compute the Kafka test broker's cache key (got '$key'): is sha256sum working?"
  dir=$root/$key
  if [[ -x $dir/mockd ]]; then printf '%s\n' "$dir/mockd"; return; fi
  mkdir -p "$root"
  # One build at a time per cache; a second caller waits, then finds the finished binary.
  exec 9>"$root/.lock"
  flock 9
  if [[ ! -x $dir/mockd ]]; then
    # the compilers, patch for patches/*.patch, perl for setup-kafka-mock.sh's edits
    ensure_commands "building the Kafka test broker" gcc=gcc make=make patch=patch perl=perl
    command -v npm >/dev/null 2>&1 || die "npm is not installed: building the Kafka test broker fetches librdkafka's source with npm pack"
    # Build in a temporary directory and rename it into place: an interrupted or concurrent
    # build never leaves a half-built broker under the final name.
    tmp=$(mktemp -d "$root/.build-$key.XXXXXX")
    echo "${0##*/}: building the Kafka test broker into $dir (about a minute, once per version)" >&2
    local log=$tmp.log
    if ! bash "$SRC/setup-kafka-mock.sh" "$tmp" "$SRC/mockd.c" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      rm -rf "$tmp"
      die "building the Kafka mock broker failed (full log: $log)"
    fi
    # setup-kafka-mock.sh links mockd with an absolute rpath into the build directory; relink it
    # relative to the binary so the renamed directory still finds its librdkafka.
    if ! gcc -O2 -Wall -I"$tmp/rdk/include" -o "$tmp/mockd" "$SRC/mockd.c" -L"$tmp/rdk/lib" \
      -Wl,-rpath,'$ORIGIN/rdk/lib' -lrdkafka -lpthread >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -rf "$tmp"
      die "relinking mockd failed (full log: $log)"
    fi
    chmod 755 "$tmp" # mktemp made it 0700
    rm -rf "$dir" # an entry whose binary was deleted by hand: mv cannot replace a non-empty dir
    mv -T "$tmp" "$dir"
    rm -f "$log"
  fi
  exec 9>&-
  printf '%s\n' "$dir/mockd"
}

SERVER=mockd # in lib.sh's server_* messages
PID_NEEDLE=mockd
DATA_PREFIX=kafka-mock-data # mockd keeps its data in memory: no data folder is ever made

state_paths() {
  STATE=${1:-$(mqbak_state_dir)}
  PIDFILE=$STATE/kafka-mock.pid
  URLFILE=$STATE/kafka-mock.bootstrap
  DATAFILE=$STATE/kafka-mock.datadir
  LOGFILE=$STATE/kafka-mock.log
}

# The bootstrap address mockd prints once it listens.
bootstrap_line() {
  sed -n 's/^BOOTSTRAP //p' "$LOGFILE" 2>/dev/null | head -n1
}

cmd_start() {
  state_paths "${1:-}"
  mkdir -p "$STATE" || die "cannot make the state folder $STATE"
  server_reuse && return
  server_stop # clears stale files
  local bin pid boot
  bin=$(cmd_build)
  # The log is emptied here, not by the background job's redirection: the wait below could read
  # it first, find a BOOTSTRAP line of an earlier run's broker or no file at all (sed then exits
  # 2, which set -e turned into a silent exit 2 of `npm run demo`).
  : >"$LOGFILE"
  # setsid: its own session, so a Ctrl-C in the shell that started it does not stop the broker.
  setsid "$bin" </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  MQBAK_CLEANUP_PID=$pid
  boot=$(server_wait_ready "$pid" 20 bootstrap_line)
  server_started "$pid" "$boot"
}

if [[ ${1:-} == build ]]; then
  cmd_build
else
  SERVER_USAGE="build | "
  server_main "$@"
fi
