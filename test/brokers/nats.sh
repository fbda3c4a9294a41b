#!/usr/bin/env bash
# A NATS server with JetStream for the tests, the demo and people: never the one that may already
# run on 127.0.0.1:4222 (tests create and delete streams; they must not touch someone's server).
#
#   nats.sh start [STATEDIR]   start one in the background on 127.0.0.1, on a port the server
#                              picks, with an empty JetStream store folder of its own; prints its
#                              URL (nats://127.0.0.1:PORT); reuses a running one
#   nats.sh stop [STATEDIR]    stop it and delete its store folder
#   nats.sh status [STATEDIR]  print "running <url> pid <pid>" (exit 0) or "not running" (exit 1)
#
# No authentication. STATEDIR as in kafka-mock.sh. env: MQBAK_NATS_PORT (default -1: the server
# picks a free port and logs it, so no other process can take it between a probe and the start).
# nats-server comes from Debian (apt-get install nats-server, 2.9.10 on Debian 12).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SERVER=nats-server
PID_NEEDLE=nats-server
DATA_PREFIX=nats-store

state_paths() {
  STATE=${1:-$(mqbak_state_dir)}
  PIDFILE=$STATE/nats.pid
  URLFILE=$STATE/nats.url
  DATAFILE=$STATE/nats.storedir
  LOGFILE=$STATE/nats.log
}

server_bin() {
  if command -v nats-server >/dev/null 2>&1; then command -v nats-server
  elif [[ -x /usr/sbin/nats-server ]]; then echo /usr/sbin/nats-server
  else die "nats-server is not installed: apt-get install nats-server (or bash scripts/ensure-deps.sh --system)"
  fi
}

# The port, once "Server is ready" (logged after JetStream has started) is in the log (the
# listening line comes before it) and the port takes connections.
listening_port() {
  local port
  grep -q 'Server is ready' "$LOGFILE" || return 0
  port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$LOGFILE" | head -n1)
  if [[ -n $port ]] && port_open 127.0.0.1 "$port"; then printf '%s\n' "$port"; fi
}

cmd_start() {
  state_paths "${1:-}"
  mkdir -p "$STATE" || die "cannot make the state folder $STATE"
  server_reuse && return
  server_stop # clears stale files and a store folder left behind
  local bin data pid port
  bin=$(server_bin)
  check_port_free MQBAK_NATS_PORT "${MQBAK_NATS_PORT:--1}"
  data=$(server_new_data_dir)
  # emptied before the start, not by the job's redirection: the wait must not read an earlier log
  : >"$LOGFILE"
  # setsid: its own session, so a Ctrl-C in the shell that started it does not stop the server
  setsid "$bin" -js -a 127.0.0.1 -p "${MQBAK_NATS_PORT:--1}" -sd "$data" </dev/null >>"$LOGFILE" 2>&1 &
  pid=$!
  MQBAK_CLEANUP_PID=$pid
  port=$(server_wait_ready "$pid" 30 listening_port)
  server_started "$pid" "nats://127.0.0.1:$port"
}

server_main "$@"
