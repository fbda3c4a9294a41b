#!/usr/bin/env bash
# Stop the RabbitMQ that start-rabbitmq.sh started, and nothing else: a server that was already
# running (the machine's own, someone's docker) is left alone. Idempotent; quiet on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

MARK=$(mqbak_state_dir)/rabbitmq.started
[[ -f $MARK ]] || exit 0
pid=$(<"$MARK")
# A mark from before a reboot: the pid it holds is gone or is not RabbitMQ any more.
if [[ -n $pid ]] && ! pid_is "$pid" beam; then
  rm -f "$MARK"
  exit 0
fi
export PATH=$PATH:/usr/sbin
run_as_root rabbitmqctl stop >/dev/null 2>&1 || die "rabbitmqctl stop failed"
wait_until 60 "RabbitMQ to close 127.0.0.1:5672" port_closed 127.0.0.1 5672
rm -f "$MARK"
