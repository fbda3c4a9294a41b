#!/usr/bin/env bash
# Make sure a RabbitMQ for the tests and the demo runs on 127.0.0.1 with the management (15672)
# and stream (5552) plugins. Reuses one already listening on 5672; otherwise installs Debian's
# rabbitmq-server if missing and starts it detached, and records that so stop-rabbitmq.sh stops
# only a server this script started. Idempotent; quiet on success.
# env: MQBAK_RABBITMQ_TIMEOUT (seconds per wait, default 120)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

TIMEOUT=${MQBAK_RABBITMQ_TIMEOUT:-120}
PLUGINS=(rabbitmq_management rabbitmq_stream)
STATE=$(mqbak_state_dir)
MARK=$STATE/rabbitmq.started
mkdir -p "$STATE"

# pid of whatever listens on 127.0.0.1:5672 (empty when ss is missing): the mark holds it so a
# mark left over from before a reboot never makes stop-rabbitmq.sh stop the system's server.
listener_pid() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -ltnpH 'sport = :5672' 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

startup_logs() {
  local f
  for f in /var/log/rabbitmq/startup_err /var/log/rabbitmq/startup_log; do
    [[ -s $f ]] && { echo "--- $f (last lines)"; tail -n 20 "$f"; }
  done >&2
  return 0
}

management_ok() { http_ok http://127.0.0.1:15672/api/overview guest:guest; }
stream_ok() { port_open 127.0.0.1 5552; }

# True when what listens on 127.0.0.1:5672 answers as an AMQP broker: to bytes that are not an
# AMQP protocol header, a broker replies with its own header ("AMQP...") and closes.
speaks_amqp() {
  local reply
  reply=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "HELLO\r\n\r\n" >&3 && head -c 4 <&3' 2>/dev/null | tr -d '\0') || true
  [[ $reply == AMQP ]]
}

if port_open 127.0.0.1 5672; then
  if management_ok && stream_ok; then exit 0; fi
  speaks_amqp ||
    die "something that is not an AMQP broker listens on 127.0.0.1:5672$(port_owner 5672): stop it, or point the tests at another RabbitMQ with MQBAK_TEST_AMQP_URL and MQBAK_TEST_RABBITMQ_MANAGEMENT_URL"
  # A server someone else started, without our plugins: enabling them online does not restart it.
  run_as_root rabbitmq-plugins enable "${PLUGINS[@]}" >/dev/null ||
    die "rabbitmq-plugins enable ${PLUGINS[*]} failed on the running RabbitMQ"
else
  ensure_commands "RabbitMQ is not running on 127.0.0.1:5672, and starting one" rabbitmq-server=rabbitmq-server
  export PATH=$PATH:/usr/sbin
  # the ports the server and its plugins bind: one taken by another program fails the start
  # late and obscurely (the plugin just never answers)
  for port in 15672:"the management plugin" 5552:"the stream plugin" 25672:"Erlang distribution"; do
    if port_open 127.0.0.1 "${port%%:*}"; then
      die "port ${port%%:*} of 127.0.0.1 (${port#*:} of RabbitMQ) is in use by another program$(port_owner "${port%%:*}"): stop it, or point the tests at another RabbitMQ with MQBAK_TEST_AMQP_URL and MQBAK_TEST_RABBITMQ_MANAGEMENT_URL"
    fi
  done
  # Enabling offline before the first boot saves a second start-up of the plugins.
  run_as_root rabbitmq-plugins --offline enable "${PLUGINS[@]}" >/dev/null ||
    die "rabbitmq-plugins --offline enable ${PLUGINS[*]} failed"
  if ! run_as_root rabbitmq-server -detached >/dev/null 2>&1; then
    startup_logs
    die "rabbitmq-server -detached failed (logs above; /var/log/rabbitmq/)"
  fi
  wait_until "$TIMEOUT" "RabbitMQ to accept AMQP connections on 127.0.0.1:5672" port_open 127.0.0.1 5672 ||
    { startup_logs; die "RabbitMQ did not come up (see /var/log/rabbitmq/)"; }
  printf '%s\n' "$(listener_pid)" >"$MARK"
fi

wait_until "$TIMEOUT" "the RabbitMQ management API (http://127.0.0.1:15672/api/overview, guest/guest)" management_ok ||
  die "the management plugin does not answer; is rabbitmq_management enabled and guest allowed from localhost?"
wait_until "$TIMEOUT" "the RabbitMQ stream port 127.0.0.1:5552" stream_ok ||
  die "the stream plugin does not listen on 5552; is rabbitmq_stream enabled?"
