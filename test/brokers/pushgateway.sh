#!/usr/bin/env bash
# A Prometheus Pushgateway (Debian's prometheus-pushgateway) for the metrics tests and for people.
#
#   pushgateway.sh start DIR   start one on a free port of 127.0.0.1, keeping nothing on disk;
#                              its pid and log go to DIR; prints its URL (http://127.0.0.1:PORT)
#   pushgateway.sh stop DIR    stop the one started with DIR
#
# Install: apt-get install prometheus-pushgateway (the tests' set-up and .ci/run do).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=${MQBAK_PUSHGATEWAY_BIN:-$(command -v prometheus-pushgateway || true)}


cmd_start() {
  local dir=$1 pid port try
  [[ -n $BIN && -x $BIN ]] || die "prometheus-pushgateway is not installed: apt-get install prometheus-pushgateway"
  mkdir -p "$dir"
  for try in 1 2 3; do
    port=$(free_port)
    setsid "$BIN" --web.listen-address="127.0.0.1:$port" </dev/null >"$dir/pushgateway.log" 2>&1 &
    pid=$!
    if wait_until 15 "the Pushgateway to answer on port $port" http_ok "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
      printf '%s\n' "$pid" >"$dir/pushgateway.pid"
      printf 'http://127.0.0.1:%s\n' "$port"
      return
    fi
    stop_pid "$pid" 2>/dev/null || true
  done
  cat "$dir/pushgateway.log" >&2
  die "the Pushgateway did not start (log above)"
}

cmd_stop() {
  local dir=$1 pid
  [[ -f $dir/pushgateway.pid ]] || return 0
  pid=$(<"$dir/pushgateway.pid")
  pid_is "$pid" pushgateway && stop_pid "$pid"
  rm -f "$dir/pushgateway.pid"
}

case ${1:-} in
  start) cmd_start "${2:?usage: pushgateway.sh start DIR}" ;;
  stop) cmd_stop "${2:?usage: pushgateway.sh stop DIR}" ;;
  *)
    echo "usage: ${0##*/} start DIR | stop DIR" >&2
    exit 2
    ;;
esac
