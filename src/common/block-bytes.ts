/**
 * A promise a restore's stream writer (StreamWriter, brokers/adapter.ts) may make about the bytes
 * of the records it is handed (RecordColumns.bytes: an archive block's decompressed memory): once
 * one of its writes settles, it reads none of the bytes of records handed to earlier writes. Those
 * of the settled write's own batch it may still read (the end it held back to fill its next
 * request) until the next write settles. A writer that keeps it says so with
 * `releasesEarlierWrites: true`; the restore then decompresses blocks into memory it uses again
 * (core/restore.ts), so a writer that broke it would send another block's bytes.
 */
export interface ReleasesEarlierWrites {
  readonly releasesEarlierWrites: true;
}

/** Whether `writer` keeps the promise above. */
export function releasesEarlierWrites(writer: object): boolean {
  return (writer as Partial<ReleasesEarlierWrites>).releasesEarlierWrites === true;
}
