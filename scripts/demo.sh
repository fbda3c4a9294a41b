#!/usr/bin/env bash
# npm run demo: the main job end to end against local brokers. Starts the test brokers (RabbitMQ
# from Debian, the Kafka mock cluster, a nats-server with JetStream), puts sample messages in a
# Kafka topic, a RabbitMQ queue and a JetStream stream, backs them up to a local folder, verifies
# the archive, restores it under new names and compares what came back with what went in.
# Every step that fails says which one and what to do (test/brokers/lib.sh reports a command
# that fails unexpectedly, with its line).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../test/brokers/lib.sh
source test/brokers/lib.sh
command -v node >/dev/null 2>&1 || die "Node.js >= 20.19 is needed and not installed"
bash scripts/ensure-deps.sh --demo || die "installing what the demo needs failed (above); fix that and run npm run demo again"
if [[ ! -f dist/cli/main.js || -n "$(find src -newer dist/cli/main.js -name '*.ts' -print -quit)" ]]; then
  npm run --silent build || die "building mqbak (npm run build) failed: the compiler's messages are above"
fi
echo "== starting local brokers (first run builds the Kafka test broker: about a minute)"
bash test/brokers/start-rabbitmq.sh ||
  die "RabbitMQ could not be started (why is above); run bash test/brokers/start-rabbitmq.sh alone to retry"
KAFKA=$(bash test/brokers/kafka-mock.sh start) ||
  die "the Kafka test broker could not be started (why is above); run bash test/brokers/kafka-mock.sh start alone to retry"
NATS=$(bash test/brokers/nats.sh start) ||
  die "the NATS test server could not be started (why is above); run bash test/brokers/nats.sh start alone to retry"
echo "   RabbitMQ: amqp://guest:***@127.0.0.1:5672  Kafka (mock cluster): $KAFKA  NATS JetStream: $NATS"
export MQBAK_DEMO_KAFKA=$KAFKA MQBAK_DEMO_NATS=$NATS
exec node --import tsx scripts/demo.ts "$@"
