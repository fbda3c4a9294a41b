#!/usr/bin/env python3
"""Byte-exact check of the mock's admin API layouts, every advertised version.

usage: check-versions.py HOST:PORT

For each API the patches add (and ListOffsets), sends one request per version the broker
advertises, decodes the response with the field layout of Apache Kafka's message definitions
(clients/src/main/resources/common/message/*.json: versions, flexible versions, tagged fields)
and fails unless the response is consumed to its last byte. kafkajs only uses the old,
non-flexible versions and librdkafka only the newest: this covers the ones in between.
Prints one line per API version; exits 1 on the first mismatch.
"""
import socket
import struct
import sys
import time

HOST, PORT = sys.argv[1].rsplit(':', 1)
PORT = int(PORT)
PREFIX = 'cv%x' % int(time.time() * 1000)


def uvarint(n):
    out = b''
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


class W:
    def __init__(self, flex):
        self.flex, self.b = flex, b''

    def i8(self, v): self.b += struct.pack('>b', v); return self
    def i16(self, v): self.b += struct.pack('>h', v); return self
    def i32(self, v): self.b += struct.pack('>i', v); return self
    def i64(self, v): self.b += struct.pack('>q', v); return self
    def bool(self, v): return self.i8(1 if v else 0)

    def str(self, s):
        if self.flex:
            if s is None:
                self.b += uvarint(0)
            else:
                e = s.encode()
                self.b += uvarint(len(e) + 1) + e
        else:
            if s is None:
                return self.i16(-1)
            e = s.encode()
            self.i16(len(e))
            self.b += e
        return self

    def arr(self, items, fn):
        if items is None:
            self.b += uvarint(0) if self.flex else struct.pack('>i', -1)
            return self
        self.b += uvarint(len(items) + 1) if self.flex else struct.pack('>i', len(items))
        for it in items:
            fn(self, it)
        return self

    def tags(self):
        if self.flex:
            self.b += b'\x00'
        return self


class R:
    def __init__(self, b, flex):
        self.b, self.o, self.flex = b, 0, flex

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError('response too short at byte %d' % self.o)
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self): return struct.unpack('>b', self.take(1))[0]
    def i16(self): return struct.unpack('>h', self.take(2))[0]
    def i32(self): return struct.unpack('>i', self.take(4))[0]
    def i64(self): return struct.unpack('>q', self.take(8))[0]
    def bool(self): return self.i8() != 0

    def uv(self):
        sh = n = 0
        while True:
            c = self.take(1)[0]
            n |= (c & 0x7F) << sh
            sh += 7
            if not c & 0x80:
                return n

    def str(self):
        if self.flex:
            n = self.uv()
            return None if n == 0 else self.take(n - 1).decode()
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        if self.flex:
            n = self.uv()
            return None if n == 0 else self.take(n - 1)
        n = self.i32()
        return None if n < 0 else self.take(n)

    def arr(self, fn):
        n = (self.uv() - 1) if self.flex else self.i32()
        return [fn(self) for _ in range(max(n, 0))]

    def tags(self):
        if self.flex:
            for _ in range(self.uv()):
                self.uv()
                self.take(self.uv())


CORR = [100]


def call(api, ver, flex, body, header_flex=None, addr=None):
    host, port = addr or (HOST, PORT)
    CORR[0] += 1
    hflex = flex if header_flex is None else header_flex
    hdr = struct.pack('>hhi', api, ver, CORR[0]) + struct.pack('>h', 8) + b'cv-check'
    if hflex:
        hdr += b'\x00'
    msg = hdr + body
    s = socket.create_connection((host, port), timeout=15)
    s.sendall(struct.pack('>i', len(msg)) + msg)
    data = b''
    while len(data) < 4:
        chunk = s.recv(4 - len(data))
        if not chunk:
            raise ValueError('connection closed (the broker refused api %d v%d)' % (api, ver))
        data += chunk
    n = struct.unpack('>i', data)[0]
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ValueError('connection closed (the broker refused the request)')
        data += chunk
    s.close()
    r = R(data, flex)
    corr = r.i32()
    assert corr == CORR[0], 'correlation id %d != %d' % (corr, CORR[0])
    if hflex:
        r.tags()
    return r


def done(r, what):
    if r.o != len(r.b):
        raise ValueError('%s: %d bytes left over after the response' % (what, len(r.b) - r.o))


def metadata(topic=None):
    """Metadata v1: ({node_id: (host, port)}, {partition: leader node_id} of `topic`)"""
    w = W(False)
    w.arr(None if topic is None else [topic], lambda w, n: w.str(n))
    r = call(3, 1, False, w.b)
    brokers = dict((b[0], (b[1], b[2])) for b in r.arr(lambda r: (r.i32(), r.str(), r.i32(), r.str())[:3]))
    r.i32()
    leaders = {}
    for _ in range(r.i32()):
        r.i16()
        name = r.str()
        r.bool()
        for _ in range(r.i32()):
            r.i16()
            pid, leader = r.i32(), r.i32()
            r.arr(lambda r: r.i32())
            r.arr(lambda r: r.i32())
            if name == topic:
                leaders[pid] = leader
    return brokers, leaders


def coordinator(group):
    """FindCoordinator v0: (host, port) of the group's coordinator (Kafka sends group
    requests there; other brokers answer NOT_COORDINATOR)"""
    r = call(10, 0, False, W(False).str(group).b)
    assert r.i16() == 0
    r.i32()
    return (r.str(), r.i32())


def leader(topic, partition):
    brokers, leaders = metadata(topic)
    return brokers[leaders[partition]]


def api_versions():
    r = call(18, 0, False, b'')
    assert r.i16() == 0
    out = {}
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        out[k] = (lo, hi)
    return out


FAILED = []


def check(name, api, first_flex, known_max, fn):
    lo, hi = VERSIONS.get(api, (None, None))
    if lo is None:
        print('%-16s not advertised' % name)
        FAILED.append(name)
        return
    if hi > known_max:
        # a real Kafka advertises newer layouts than this script encodes
        print('%-16s v%d-v%d advertised, checking up to v%d' % (name, lo, hi, known_max))
    for v in range(lo, min(hi, known_max) + 1):
        flex = v >= first_flex
        try:
            info = fn(v, flex)
            print('%-16s v%-2d %s ok %s' % (name, v, 'flex' if flex else '    ', info or ''))
        except Exception as e:  # noqa: BLE001 - report and go on
            print('%-16s v%-2d FAIL %s' % (name, v, e))
            FAILED.append('%s v%d' % (name, v))


def create_topics(v, flex):
    t = '%s-ct%d' % (PREFIX, v)
    w = W(flex)

    def topic(w, name):
        w.str(name).i32(2).i16(1).arr([], None)
        w.arr([('retention.ms', '1000')], lambda w, c: w.str(c[0]).str(c[1]).tags())
        w.tags()
    w.arr([t, t + 'x'], topic).i32(5000)
    if v >= 1:
        w.bool(False)
    w.tags()
    r = call(19, v, flex, w.b)
    if v >= 2:
        r.i32()

    def res(r):
        name, err = r.str(), r.i16()
        msg = r.str() if v >= 1 else None
        r.tags()
        return (name, err, msg)
    out = r.arr(res)
    r.tags()
    done(r, 'CreateTopics')
    assert [e for _, e, _ in out] == [0, 0], out
    # again: TOPIC_ALREADY_EXISTS
    r = call(19, v, flex, w.b)
    if v >= 2:
        r.i32()
    out = r.arr(res)
    r.tags()
    done(r, 'CreateTopics dup')
    assert [e for _, e, _ in out] == [36, 36], out
    return 'dup=%s' % out[0][1]


def delete_topics(v, flex):
    t = '%s-dt%d' % (PREFIX, v)
    call(19, 0, False, W(False).arr([t], lambda w, n: w.str(n).i32(1).i16(1).arr([], None).arr([], None)).i32(5000).b)
    w = W(flex).arr([t, t + '-missing'], lambda w, n: w.str(n)).i32(5000).tags()
    r = call(20, v, flex, w.b)
    if v >= 1:
        r.i32()

    def res(r):
        name, err = r.str(), r.i16()
        r.tags()
        return err
    out = r.arr(res)
    r.tags()
    done(r, 'DeleteTopics')
    assert out == [0, 3], out
    return 'errors=%s' % out


def create_partitions(v, flex):
    t = '%s-cp%d' % (PREFIX, v)
    call(19, 0, False, W(False).arr([t], lambda w, n: w.str(n).i32(1).i16(1).arr([], None).arr([], None)).i32(5000).b)
    w = W(flex).arr([(t, 3), (t + '-missing', 2)], lambda w, x: w.str(x[0]).i32(x[1]).arr(None, None).tags())
    w.i32(5000).bool(False).tags()
    r = call(37, v, flex, w.b)
    r.i32()

    def res(r):
        name, err, msg = r.str(), r.i16(), r.str()
        r.tags()
        return err
    out = r.arr(res)
    r.tags()
    done(r, 'CreatePartitions')
    assert out == [0, 3], out
    return 'errors=%s' % out


def describe_configs(v, flex):
    t = '%s-base' % PREFIX
    w = W(flex)
    w.arr([(t, None), (t, ['retention.ms', 'segment.ms'])],
          lambda w, x: (w.i8(2).str(x[0]).arr(x[1], lambda w, k: w.str(k)), w.tags()))
    if v >= 1:
        w.bool(True)
    if v >= 3:
        w.bool(False)
    w.tags()
    r = call(32, v, flex, w.b)
    r.i32()

    def entry(r):
        name, value, ro = r.str(), r.str(), r.bool()
        if v == 0:
            src = 5 if r.bool() else 1
        else:
            src = r.i8()
        r.bool()
        if v >= 1:
            def syn(r):
                x = (r.str(), r.str(), r.i8())
                r.tags()
                return x
            r.arr(syn)
        if v >= 3:
            r.i8()
            r.str()
        r.tags()
        return (name, value, src)

    def res(r):
        err, msg, rtype, rname = r.i16(), r.str(), r.i8(), r.str()
        cfg = r.arr(entry)
        r.tags()
        return (err, cfg)
    out = r.arr(res)
    r.tags()
    done(r, 'DescribeConfigs')
    assert all(e == 0 for e, _ in out), out
    allc = dict((n, (val, s)) for n, val, s in out[0][1])
    assert allc['retention.ms'] == ('1000', 1), allc
    assert allc['cleanup.policy'] == ('delete', 5), allc
    assert sorted(out[1][1]) == [('retention.ms', '1000', 1), ('segment.ms', '604800000', 5)], out[1][1]
    return '%d configs' % len(out[0][1])


def alter_configs(v, flex):
    t = '%s-base' % PREFIX
    w = W(flex)
    w.arr([t], lambda w, n: (w.i8(2).str(n).arr([('retention.ms', '2000')], lambda w, c: w.str(c[0]).str(c[1]).tags()), w.tags()))
    w.bool(False).tags()
    r = call(33, v, flex, w.b)
    r.i32()

    def res(r):
        err, msg, rtype, rname = r.i16(), r.str(), r.i8(), r.str()
        r.tags()
        return err
    out = r.arr(res)
    r.tags()
    done(r, 'AlterConfigs')
    assert out == [0], out
    return ''


def list_groups(v, flex):
    w = W(flex)
    if v >= 4:
        w.arr([], None)
    if v >= 5:
        w.arr([], None)
    w.tags()

    def grp(r):
        g = [r.str(), r.str()]
        if v >= 4:
            g.append(r.str())
        if v >= 5:
            g.append(r.str())
        r.tags()
        return g
    out = []
    for addr in metadata()[0].values():  # each broker lists the groups it coordinates
        r = call(16, v, flex, w.b, addr=addr)
        if v >= 1:
            r.i32()
        err = r.i16()
        out += r.arr(grp)
        r.tags()
        done(r, 'ListGroups')
        assert err == 0
    mine = [g for g in out if g[0].startswith(PREFIX)]
    assert mine and all(g[1] == '' for g in mine), mine
    if v >= 4:
        assert all(g[2] == 'Empty' for g in mine), mine
    return 'own groups %s' % mine


def describe_groups(v, flex):
    g = '%s-g' % PREFIX
    w = W(flex).arr([g], lambda w, n: w.str(n))
    if v >= 3:
        w.bool(True)
    w.tags()
    r = call(15, v, flex, w.b, addr=coordinator(g))
    if v >= 1:
        r.i32()

    def member(r):
        m = [r.str()]
        if v >= 4:
            r.str()
        m += [r.str(), r.str(), r.bytes(), r.bytes()]
        r.tags()
        return m

    def grp(r):
        err, gid, state, ptype, pdata = r.i16(), r.str(), r.str(), r.str(), r.str()
        members = r.arr(member)
        if v >= 3:
            r.i32()
        r.tags()
        return (err, gid, state, ptype, members)
    out = r.arr(grp)
    r.tags()
    done(r, 'DescribeGroups')
    assert [(e, s) for e, _, s, _, _ in out] == [(0, 'Empty')], out
    # an unknown group, asked of its own coordinator, is Dead
    none = '%s-none' % PREFIX
    w = W(flex).arr([none], lambda w, n: w.str(n))
    if v >= 3:
        w.bool(True)
    w.tags()
    r = call(15, v, flex, w.b, addr=coordinator(none))
    if v >= 1:
        r.i32()
    out2 = r.arr(grp)
    r.tags()
    done(r, 'DescribeGroups')
    assert [(e, s) for e, _, s, _, _ in out2] == [(0, 'Dead')], out2
    return 'states %s' % [s for _, _, s, _, _ in out + out2]


def delete_groups(v, flex):
    g = '%s-dg%d' % (PREFIX, v)
    commit_offset(g)

    def res(r):
        gid, err = r.str(), r.i16()
        r.tags()
        return err
    out = []
    for name in (g, g + '-none'):
        w = W(flex).arr([name], lambda w, n: w.str(n)).tags()
        r = call(42, v, flex, w.b, addr=coordinator(name))
        r.i32()
        out += r.arr(res)
        r.tags()
        done(r, 'DeleteGroups')
    assert out == [0, 69], out
    return 'errors=%s' % out


def commit_offset(group):
    """OffsetCommit v2 with generation -1: an offsets-only (Empty) group."""
    t = '%s-base' % PREFIX
    w = W(False).str(group).i32(-1).str('').i64(-1)
    w.arr([t], lambda w, n: w.str(n).arr([0], lambda w, p: w.i32(p).i64(1).str(None)))
    r = call(8, 2, False, w.b, addr=coordinator(group))
    errs = []
    r.arr(lambda r: (r.str(), errs.extend(r.arr(lambda r: (r.i32(), r.i16())[1]))))
    done(r, 'OffsetCommit')
    assert errs == [0], errs


def list_offsets(v, flex):
    t = '%s-base' % PREFIX
    w = W(flex).i32(-1)
    if v >= 2:
        w.i8(0)
    w.arr([t], lambda w, n: (w.str(n).arr([0], lambda w, p: (w.i32(p), v >= 4 and w.i32(-1), w.i64(0), v == 0 and w.i32(1), w.tags())), w.tags()))
    w.tags()
    r = call(2, v, flex, w.b, addr=leader(t, 0))
    if v >= 2:
        r.i32()

    def part(r):
        p, err = r.i32(), r.i16()
        if v == 0:
            offs = [r.i64() for _ in range(r.i32())]
            r.tags()
            return (err, offs)
        ts, off = r.i64(), r.i64()
        if v >= 4:
            r.i32()
        r.tags()
        return (err, ts, off)
    out = r.arr(lambda r: (r.str(), r.arr(part), r.tags())[1])
    r.tags()
    done(r, 'ListOffsets')
    assert out[0][0][0] == 0, out
    return '%s' % out


def delete_records(v, flex):
    t = '%s-dr%d' % (PREFIX, v)
    call(19, 0, False, W(False).arr([t], lambda w, n: w.str(n).i32(1).i16(1).arr([], None).arr([], None)).i32(5000).b)
    produce3(t)
    w = W(flex)
    w.arr([t], lambda w, n: (w.str(n).arr([(0, 2), (5, 0)], lambda w, p: (w.i32(p[0]).i64(p[1]), w.tags())), w.tags()))
    w.i32(5000).tags()
    r = call(21, v, flex, w.b, addr=leader(t, 0))
    r.i32()

    def part(r):
        p, low, err = r.i32(), r.i64(), r.i16()
        r.tags()
        return (p, low, err)
    out = r.arr(lambda r: (r.str(), r.arr(part), r.tags())[1])
    r.tags()
    done(r, 'DeleteRecords')
    assert out == [[(0, 2, 0), (5, -1, 3)]], out
    return '%s' % out


def crc32c(data):
    """CRC-32C (Castagnoli), as record batches carry it (not in Python's stdlib)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def produce3(topic):
    """Produce v3, one uncompressed v2 batch of 3 records to partition 0 (acks 1)."""
    recs = b''
    for i in range(3):
        body = b'\x00' + uvarint(0) + uvarint(i * 2) + uvarint(1) + uvarint(2) + b'v' + uvarint(0)
        recs += uvarint(len(body) * 2) + body
    batch_tail = (struct.pack('>h', 0) + struct.pack('>i', 2) + struct.pack('>q', 1000) * 2 +
                  struct.pack('>q', -1) + struct.pack('>h', -1) + struct.pack('>i', -1) +
                  struct.pack('>i', 3) + recs)
    batch = (struct.pack('>q', 0) + struct.pack('>i', 4 + 1 + 4 + len(batch_tail)) + struct.pack('>i', 0) +
             b'\x02' + struct.pack('>I', crc32c(batch_tail)) + batch_tail)
    w = W(False).str(None).i16(1).i32(5000)
    w.arr([topic], lambda w, n: w.str(n).arr([0], lambda w, p: (w.i32(p), w.i32(len(batch)))))
    r = call(0, 3, False, w.b + batch, addr=leader(topic, 0))
    errs = []
    r.arr(lambda r: (r.str(), errs.extend(r.arr(lambda r: (r.i32(), r.i16(), r.i64(), r.i64())[1]))))
    assert errs == [0], errs


VERSIONS = api_versions()
if 19 not in VERSIONS:
    print('CreateTopics is not advertised: not a broker with the admin APIs')
    sys.exit(1)
# a topic and an offsets-only group for the checks that need them
call(19, 0, False, W(False).arr(['%s-base' % PREFIX], lambda w, n: w.str(n).i32(1).i16(1).arr([], None).arr(
    [('retention.ms', '1000')], lambda w, c: w.str(c[0]).str(c[1]))).i32(5000).b)
commit_offset('%s-g' % PREFIX)

check('CreateTopics', 19, 5, 4, create_topics)
check('DeleteTopics', 20, 4, 4, delete_topics)
check('CreatePartitions', 37, 2, 2, create_partitions)
check('DescribeConfigs', 32, 4, 4, describe_configs)
check('AlterConfigs', 33, 2, 2, alter_configs)
check('ListGroups', 16, 3, 5, list_groups)
check('DescribeGroups', 15, 5, 5, describe_groups)
check('DeleteGroups', 42, 2, 2, delete_groups)
check('DeleteRecords', 21, 2, 2, delete_records)
check('ListOffsets', 2, 6, 7, list_offsets)

if FAILED:
    print('FAILED: %s' % ', '.join(FAILED))
    sys.exit(1)
print('all ok')
