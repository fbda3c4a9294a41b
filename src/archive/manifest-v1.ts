/**
 * Reading format version 1 manifests (docs/FORMAT.md, 5.4). Version 1 named the brokers in the
 * archive: `source.broker` was "kafka" or "rabbitmq", and a stream entry had `broker` and a
 * `kafka` or `rabbitmq` object where version 2 has the adapter's `address`. This is the only
 * place in src/archive that knows those names, and only to read old backups.
 */

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The stream entry fields version 2 replaced by `address`. */
export const V1_STREAM_FIELDS = ['broker', 'kafka', 'rabbitmq'] as const;

/** Whether a version 1 `source.broker` is valid. */
export function v1BrokerOk(broker: unknown): boolean {
  return broker === 'kafka' || broker === 'rabbitmq';
}

/** The version 1 rules of a stream entry's broker fields (`at` starts each problem). */
export function v1StreamProblems(st: Record<string, unknown>, at: string): string[] {
  const p: string[] = [];
  if (!v1BrokerOk(st.broker)) p.push(`${at}: bad broker`);
  const { kafka, rabbitmq } = st;
  if (kafka !== undefined && (!isObj(kafka) || typeof kafka.topic !== 'string' || !isCount(kafka.partition))) p.push(`${at}: bad kafka`);
  if (rabbitmq !== undefined && (!isObj(rabbitmq) || typeof rabbitmq.vhost !== 'string' || typeof rabbitmq.queue !== 'string')) p.push(`${at}: bad rabbitmq`);
  return p;
}

/**
 * A checked version 1 manifest (without its checksum) in the version 2 shape: each stream entry
 * loses `broker`, `kafka` and `rabbitmq` and gets `address` = its `kafka` or `rabbitmq` object as
 * it is (the adapters' addresses have the same fields). `version` stays 1.
 */
export function upgradeV1(v1: Record<string, unknown>): Record<string, unknown> {
  const streams = (v1.streams as Array<Record<string, unknown>>).map(({ broker: _broker, kafka, rabbitmq, ...entry }) => ({
    ...entry,
    address: kafka ?? rabbitmq ?? {},
  }));
  return { ...v1, streams };
}
