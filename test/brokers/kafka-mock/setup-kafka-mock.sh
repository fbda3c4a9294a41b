#!/bin/bash
# Build a standalone Kafka-protocol test broker (librdkafka mock cluster) from npm + Debian packages only.
# usage: setup-kafka-mock.sh <outdir> <path/to/mockd.c>
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(realpath -m "${1:-.kafka-mock}"); SRC=$(realpath "${2:-mockd.c}"); V=1.10.1   # ships librdkafka 2.15.1 source
mkdir -p "$OUT" && cd "$OUT"
command -v gcc >/dev/null && command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc make; }
npm pack "@confluentinc/kafka-javascript@$V" --silent >/dev/null
rm -rf package && tar xzf "confluentinc-kafka-javascript-$V.tgz" package/deps/librdkafka
cd package/deps/librdkafka
# the mock silently drops data beyond 5 MiB / 100000 batches per partition: make it unbounded (env-overridable)
sed -i \
 -e 's|mpart->max_size = 1024 \* 1024 \* 5;|mpart->max_size = getenv("RDKAFKA_MOCK_PARTITION_MAX_BYTES") ? (size_t)strtoull(getenv("RDKAFKA_MOCK_PARTITION_MAX_BYTES"), NULL, 10) : (size_t)-1;|' \
 -e 's|mpart->max_cnt  = 100000;|mpart->max_cnt = getenv("RDKAFKA_MOCK_PARTITION_MAX_BATCHES") ? (size_t)strtoull(getenv("RDKAFKA_MOCK_PARTITION_MAX_BATCHES"), NULL, 10) : (size_t)-1;|' \
 src/rdkafka_mock.c
grep -q RDKAFKA_MOCK_PARTITION_MAX_BYTES src/rdkafka_mock.c && grep -q RDKAFKA_MOCK_PARTITION_MAX_BATCHES src/rdkafka_mock.c
# the LeaveGroup handler only parses the v0-v2 layout but advertises v4: kafkajs sends v3, the member is
# never removed and the next join of that group stalls for sessionTimeout. Advertise v0-v2 only.
sed -i 's|\[RD_KAFKAP_LeaveGroup\] = {0, 4, 4,|[RD_KAFKAP_LeaveGroup] = {0, 2, 4,|' src/rdkafka_mock_handlers.c
grep -q 'RD_KAFKAP_LeaveGroup\] = {0, 2, 4,' src/rdkafka_mock_handlers.c
# when the last member leaves, the mock goes to Joining and makes the next member of that group wait
# sessionTimeout-1s; go to Empty instead so a restarted consumer (same groupId) rejoins at once.
perl -0pi -e 's/(rd_kafka_mock_cgrp_classic_member_destroy\(mcgrp, member\);\n)(\s*)(rd_kafka_mock_cgrp_classic_rebalance\(mcgrp, "explicit member leave"\);)/$1$2if (mcgrp->member_cnt == 0)\n$2        rd_kafka_mock_cgrp_classic_set_state(mcgrp, RD_KAFKA_MOCK_CGRP_STATE_EMPTY, "last member left");\n$2else\n$2        $3/' src/rdkafka_mock_cgrp.c
grep -q '"last member left"' src/rdkafka_mock_cgrp.c
# mqbak's own additions to the mock (admin APIs and fixes), applied in name order; see patches/README.md
for p in "$HERE"/patches/*.patch; do
        [ -e "$p" ] || continue
        patch -p1 --forward --quiet < "$p" || { echo "patch failed: $p" >&2; exit 1; }
done
./configure --prefix="$OUT/rdk" --disable-gssapi --disable-curl --disable-zstd --disable-ssl --disable-lz4-ext >/dev/null
make -j"$(nproc)" -C src >/dev/null 2>&1
make -C src install >/dev/null
cd "$OUT"
gcc -O2 -Wall -I"$OUT/rdk/include" -o "$OUT/mockd" "$SRC" -L"$OUT/rdk/lib" -Wl,-rpath,"$OUT/rdk/lib" -lrdkafka -lpthread
rm -rf package "confluentinc-kafka-javascript-$V.tgz"
echo "built $OUT/mockd"
