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

SERVER=s3rver
PID_NEEDLE=s3rver
DATA_PREFIX=s3rver-data

state_paths() {
  STATE=${1:-$(mqbak_state_dir)}
  PIDFILE=$STATE/s3rver.pid
  URLFILE=$STATE/s3rver.endpoint
  DATAFILE=$STATE/s3rver.datadir
  LOGFILE=$STATE/s3rver.log
}

# s3rver prints "S3rver listening on ADDR:PORT" even with --silent: that gives us port 0's pick,
# once it takes connections.
listening_port() {
  local port
  port=$(sed -n 's/^S3rver listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOGFILE" 2>/dev/null | head -n1)
  if [[ -n $port ]] && port_open 127.0.0.1 "$port"; then printf '%s\n' "$port"; fi
}

cmd_start() {
  state_paths "${1:-}"
  mkdir -p "$STATE" || die "cannot make the state folder $STATE"
  server_reuse && return
  server_stop # clears stale files and a data directory left behind
  [[ -f $BIN ]] || die "s3rver is not installed: run 'npm ci' in $ROOT first"
  command -v node >/dev/null 2>&1 || die "node is not installed: s3rver runs on Node.js (>= 20.19)"
  check_port_free MQBAK_S3RVER_PORT "${MQBAK_S3RVER_PORT:-0}"
  local data pid port
  data=$(server_new_data_dir)
  # emptied before the start, not by the job's redirection: the wait must not read an earlier log
  : >"$LOGFILE"
  # --openssl-legacy-provider: without it ListObjectsV2 pagination answers 500 on Node 20.
  setsid node --openssl-legacy-provider "$BIN" -d "$data" -a 127.0.0.1 -p "${MQBAK_S3RVER_PORT:-0}" --silent \
    </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  MQBAK_CLEANUP_PID=$pid
  port=$(server_wait_ready "$pid" 30 listening_port)
  server_started "$pid" "http://127.0.0.1:$port"
}

server_main "$@"
