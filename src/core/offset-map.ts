/**
 * Source position -> target position mapping, broker-neutral (Kafka partitions, RabbitMQ
 * streams): one entry per run of consecutive source positions written to consecutive targets.
 */
export interface OffsetRun {
  topic: string;
  partition: number;
  targetTopic: string;
  targetPartition: number;
  /** inclusive */
  sourceStart: bigint;
  /** inclusive */
  sourceEnd: bigint;
  targetStart: bigint;
}

/** Builds runs from acknowledged (source, target) pairs given in order. */
export class OffsetMapBuilder {
  private cur: OffsetRun | null = null;
  readonly runs: OffsetRun[] = [];
  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly targetTopic: string,
    private readonly targetPartition: number,
  ) {}

  add(source: bigint, target: bigint): void {
    const c = this.cur;
    if (c && source === c.sourceEnd + 1n && target === c.targetStart + (c.sourceEnd - c.sourceStart) + 1n) {
      c.sourceEnd = source;
      return;
    }
    this.cur = { topic: this.topic, partition: this.partition, targetTopic: this.targetTopic, targetPartition: this.targetPartition, sourceStart: source, sourceEnd: source, targetStart: target };
    this.runs.push(this.cur);
  }

  /**
   * add() for records from .. to - 1 of a column of positions (exact integers), restored at
   * target, target + 1, ...: BigInts only where a run starts or ends.
   */
  addPositions(positions: ArrayLike<number>, from: number, to: number, target: bigint): void {
    let i = from;
    while (i < to) {
      let j = i + 1;
      while (j < to && positions[j] === positions[j - 1]! + 1) j++;
      this.add(BigInt(positions[i]!), target + BigInt(i - from));
      // positions i .. j - 1 and their targets both follow each other: one run
      this.cur!.sourceEnd = BigInt(positions[j - 1]!);
      i = j;
    }
  }
}

export function offsetRunToJson(r: OffsetRun): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    targetTopic: r.targetTopic,
    targetPartition: r.targetPartition,
    sourceStart: Number(r.sourceStart),
    sourceEnd: Number(r.sourceEnd),
    targetStart: Number(r.targetStart),
  });
}

/**
 * Where a consumer committed at source position `committed` resumes on the target: the target
 * position of the first restored record whose source position is >= committed, or `targetEnd`
 * (the log end) when there is none. Never skips a record the consumer had not read.
 * `runs` are the runs of one partition, in order.
 */
export function translateCommitted(runs: OffsetRun[], committed: bigint, targetEnd: bigint): bigint {
  for (const r of runs) {
    if (r.sourceEnd < committed) continue;
    if (committed <= r.sourceStart) return r.targetStart;
    return r.targetStart + (committed - r.sourceStart);
  }
  return targetEnd;
}
