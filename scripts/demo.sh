#!/usr/bin/env bash
# npm run demo: the main job end to end against local brokers. Starts the test brokers (RabbitMQ
# from Debian, the Kafka mock cluster), puts sample messages in a Kafka topic and a RabbitMQ
# queue, backs them up to a local folder, verifies the archive, restores it under new names and
# compares what came back with what went in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
[[ -f dist/cli/main.js && -z "$(find src -newer dist/cli/main.js -name '*.ts' -print -quit)" ]] || npm run --silent build
echo "== starting local brokers (first run builds the Kafka test broker: about a minute)"
bash test/brokers/start-rabbitmq.sh
KAFKA=$(bash test/brokers/kafka-mock.sh start)
echo "   RabbitMQ: amqp://guest:***@127.0.0.1:5672  Kafka (mock cluster): $KAFKA"
export MQBAK_DEMO_KAFKA=$KAFKA
exec node --import tsx scripts/demo.ts "$@"
