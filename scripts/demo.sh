#!/usr/bin/env bash
# npm run demo: the main job end to end against local brokers. Starts the test brokers (RabbitMQ
# from Debian, the Kafka mock cluster, a nats-server with JetStream), puts sample messages in a
# Kafka topic, a RabbitMQ queue and a JetStream stream, backs them up to a local folder, verifies
# the archive, restores it under new names and compares what came back with what went in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
[[ -f dist/cli/main.js && -z "$(find src -newer dist/cli/main.js -name '*.ts' -print -quit)" ]] || npm run --silent build
echo "== starting local brokers (first run builds the Kafka test broker: about a minute)"
bash test/brokers/start-rabbitmq.sh
KAFKA=$(bash test/brokers/kafka-mock.sh start)
NATS=$(bash test/brokers/nats.sh start)
echo "   RabbitMQ: amqp://guest:***@127.0.0.1:5672  Kafka (mock cluster): $KAFKA  NATS JetStream: $NATS"
export MQBAK_DEMO_KAFKA=$KAFKA MQBAK_DEMO_NATS=$NATS
exec node --import tsx scripts/demo.ts "$@"
