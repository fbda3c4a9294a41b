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
  else die "nats-server is not installed (apt-get install nats-server)"
  fi
}

running_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  pid_is "$pid" nats-server || return 1
  printf '%s\n' "$pid"
}

cmd_start() {
  state_paths "${1:-}"
  mkdir -p "$STATE"
  if running_pid >/dev/null && [[ -s $URLFILE ]]; then
    cat "$URLFILE"
    return
  fi
  cmd_stop "$STATE" # clears stale files and a store folder left behind
  local bin data pid port="" deadline
  bin=$(server_bin)
  data=$(mktemp -d "$STATE/nats-store.XXXXXX")
  printf '%s\n' "$data" >"$DATAFILE"
  # setsid: its own session, so a Ctrl-C in the shell that started it does not stop the server
  setsid "$bin" -js -a 127.0.0.1 -p "${MQBAK_NATS_PORT:--1}" -sd "$data" </dev/null >"$LOGFILE" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 30))
  while :; do
    # "Server is ready" comes after JetStream has started; the port is on the line before it
    if grep -q 'Server is ready' "$LOGFILE" 2>/dev/null; then
      port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$LOGFILE" | head -n1)
      [[ -n $port ]] && port_open 127.0.0.1 "$port" && break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$LOGFILE" >&2
      die "nats-server exited at start (log above)"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid "$pid"
      die "nats-server was not ready within 30 s (log: $LOGFILE)"
    fi
    sleep 0.1
  done
  printf '%s\n' "$pid" >"$PIDFILE"
  printf 'nats://127.0.0.1:%s\n' "$port" | tee "$URLFILE"
}

cmd_stop() {
  state_paths "${1:-}"
  local pid data
  if pid=$(running_pid); then stop_pid "$pid"; fi
  if [[ -f $DATAFILE ]]; then
    data=$(<"$DATAFILE")
    # only ever delete a folder this script created
    [[ $data == "$STATE"/nats-store.* ]] && rm -rf "$data"
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
