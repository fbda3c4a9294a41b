#!/usr/bin/env bash
# Installs what the tests, the demo and CI need when it is missing, so that `npm test` and
# `npm run demo` work on a fresh clone on a fresh Debian machine as the first command. Quiet
# when nothing is missing.
#
#   ensure-deps.sh            the npm dependencies (npm ci) and the tools the tests run
#   ensure-deps.sh --system   the tools the tests run only (the vitest set-up of every test
#                             project runs this before any test: `npx vitest` installs them too)
#   ensure-deps.sh --demo     the npm dependencies and what npm run demo starts (nats-server)
#   ensure-deps.sh --ci       the tools, and what .ci/run needs beside them (RabbitMQ, Ceph's S3
#                             gateway, the compilers of the native zstd binding) in one apt-get
#                             run; .ci/run runs npm ci itself
#
# Tools come from Debian's packages through apt-get, as root or through password-less sudo.
# MQBAK_NO_INSTALL=1 installs nothing: a missing tool then fails with the command to run.
# RabbitMQ is installed and started by test/brokers/start-rabbitmq.sh, when the tests find none
# running; the Kafka test broker's compilers by test/brokers/kafka-mock.sh, when it builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../test/brokers/lib.sh
source test/brokers/lib.sh

# command=Debian package: what the test files spawn
TEST_TOOLS=(
  kcat=kcat                                     # Kafka tests: batches made and read by librdkafka
  lz4=lz4                                       # unit tests: LZ4 frames made by the reference tool
  zstd=zstd                                     # unit tests: segments read by the reference tool
  promtool=prometheus                           # metrics tests: every metrics file passes promtool
  prometheus-pushgateway=prometheus-pushgateway # metrics tests: --pushgateway
  nats-server=nats-server                       # the NATS JetStream test broker (test/brokers/nats.sh)
  python3=python3                               # the Kafka test broker's byte-level API check
)
CI_TOOLS=(
  rabbitmq-server=rabbitmq-server
  gcc=gcc g++=g++ make=make patch=patch # the Kafka test broker's build; node-gyp for zstd-napi
  curl=curl
  ceph-mon=ceph-mon ceph-osd=ceph-osd radosgw=radosgw ceph=ceph-common # test/brokers/ceph-rgw.sh
)

npm_deps() {
  local marker=node_modules/.package-lock.json
  if [[ ! -f $marker || package-lock.json -nt $marker ]]; then
    command -v npm >/dev/null 2>&1 || die "npm is not installed: install Node.js >= 20.19 with its npm"
    echo "mqbak: installing npm dependencies (npm ci)..." >&2
    npm ci --no-audit --no-fund --loglevel=error >&2 ||
      die "npm ci failed (its messages are above); run it by hand in $PWD to see why"
  fi
}

case ${1:-} in
  '')
    ensure_commands "running the tests" "${TEST_TOOLS[@]}"
    npm_deps
    ;;
  --system) ensure_commands "running the tests" "${TEST_TOOLS[@]}" ;;
  --demo)
    ensure_commands "running the demo" nats-server=nats-server
    npm_deps
    ;;
  --ci) ensure_commands "CI (.ci/run)" "${TEST_TOOLS[@]}" "${CI_TOOLS[@]}" ;;
  *)
    echo "usage: ${0##*/} [--system | --demo | --ci]" >&2
    exit 2
    ;;
esac
