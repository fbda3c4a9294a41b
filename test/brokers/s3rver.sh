#!/usr/bin/env bash
# A local S3 server (s3rver from the project's devDependencies) for the demo and for people.
#
#   s3rver.sh start [STATEDIR]   start one in the background on 127.0.0.1 with an empty temporary
#                                data directory; prints its endpoint (http://127.0.0.1:PORT);
#                                reuses a running one
#   s3rver.sh stop [STATEDIR]    stop it and delete its data directory
#   s3rver.sh status [STATEDIR]  print "running <endpoint> pid <pid>" (exit 0) or "not running" (exit 1)
#
# Credentials: access key S3RVER, secret S3RVER, any region; clients need path-style addressing
# and requestChecksumCalculation 'WHEN_REQUIRED' (see FINDINGS.md).
# env: MQBAK_S3RVER_PORT (default 0: any free port). STATEDIR as in kafka-mock.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/node_modules/s3rver/bin/s3rver.js

state_paths() {
  STATE=${1:-$(mqbak_state_dir)}
  PIDFILE=$STATE/s3rver.pid
  URLFILE=$STATE/s3rver.endpoint
  DATAFILE=$STATE/s3rver.datadir
  LOGFILE=$STATE/s3rver.log
}

running_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  pid_is "$pid" s3rver || return 1
  printf '%s\n' "$pid"
}

cmd_start() {
  state_paths "${1:-}"
  mkdir -p "$STATE"
  if running_pid >/dev/null && [[ -s $URLFILE ]]; then
    cat "$URLFILE"
    return
  fi
  cmd_stop "$STATE" # clears stale files and a data directory left behind
  [[ -f $BIN ]] || die "s3rver is not installed: run 'npm ci' in $ROOT first"
  local data pid port="" deadline
  data=$(mktemp -d "$STATE/s3rver-data.XXXXXX")
  printf '%s\n' "$data" >"$DATAFILE"
  # --openssl-legacy-provider: without it ListObjectsV2 pagination answers 500 on Node 20.
  # s3rver prints "S3rver listening on ADDR:PORT" even with --silent: that gives us port 0's pick.
  # created here, not by the background job's redirection: under load the loop below can read
  # it first, and sed on a missing file exits 2, which set -e turns into a silent failure
  : >"$LOGFILE"
  setsid node --openssl-legacy-provider "$BIN" -d "$data" -a 127.0.0.1 -p "${MQBAK_S3RVER_PORT:-0}" --silent \
    </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 30))
  while :; do
    port=$(sed -n 's/^S3rver listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOGFILE" 2>/dev/null | head -n1)
    [[ -n $port ]] && port_open 127.0.0.1 "$port" && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$LOGFILE" >&2
      die "s3rver exited at start (log above)"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$pid"
      die "s3rver did not start listening within 30 s (log: $LOGFILE)"
    fi
    sleep 0.1
  done
  printf '%s\n' "$pid" >"$PIDFILE"
  printf 'http://127.0.0.1:%s\n' "$port" | tee "$URLFILE"
}

cmd_stop() {
  state_paths "${1:-}"
  local pid data
  if pid=$(running_pid); then stop_pid "$pid"; fi
  if [[ -f $DATAFILE ]]; then
    data=$(<"$DATAFILE")
    # only ever delete a directory this script created
    [[ $data == "$STATE"/s3rver-data.* ]] && rm -rf "$data"
  fi
  rm -f "$PIDFILE" "$URLFILE" "$DATAFILE"
}

cmd_status() {
  state_paths "${1:-}"
  local pid
  if pid=$(running_pid) && [[ -s $URLFILE ]]; then
    printf 'running %s pid %s\n' "$(<"$URLFILE")" "$pid"
  else
    echo "not running"
    return 1
  fi
}

case ${1:-} in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *)
    echo "usage: ${0##*/} start [STATEDIR] | stop [STATEDIR] | status [STATEDIR]" >&2
    exit 2
    ;;
esac
