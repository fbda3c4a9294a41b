/**
 * Local copies of what a restore's preflight downloaded. With `--preflight full` every segment the
 * restore replays is read twice: once by the preflight (checked whole before anything is
 * published) and once by the write pass. From a remote store that was two downloads of the whole
 * archive: twice the requests, the transfer and the server's work. The preflight now writes each
 * segment it downloads to a file in a private temporary folder, and the write pass reads that
 * file instead of downloading the segment again, as a restore from a local folder reads its files.
 *
 * Nothing is trusted for being local: the write pass checks the size and SHA-256 of what it reads
 * against the manifest exactly as it checks a download (backup-reader.ts, fetchSegment), so a copy
 * changed in between is refused like a changed object. A copy that cannot be written or read is
 * no error: that segment is downloaded again. Copies are made only while the temporary folder's
 * file system has room for all of them and COPIES_RESERVE more; each is removed once the write
 * pass has read it, and the folder when the last one is gone, or at the latest when the process
 * exits.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, statfs, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../stores/store.js';

/** Free space left to everything else on the temporary folder's file system. */
export const COPIES_RESERVE = 1024 * 1024 * 1024;

/** Folders of copies still on disk, removed when the process exits. */
const live = new Set<string>();
let exitHook = false;
function removeAtExit(dir: string): void {
  live.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of live) rmSync(d, { recursive: true, force: true });
  });
}

export class SegmentCopies {
  /** By key: the copy's file once written, null when writing it failed. */
  private readonly files = new Map<string, Promise<string | null>>();
  private reading = 0;
  private next = 0;
  private gone = false;

  private constructor(readonly dir: string) {}

  /**
   * A new folder of copies for `bytes` of segments under `parent` (the temporary folder), or null
   * when its file system has not room for them and `reserve` more (or no folder can be made).
   */
  static async create(bytes: number, parent = tmpdir(), reserve = COPIES_RESERVE): Promise<SegmentCopies | null> {
    try {
      const fs = await statfs(parent);
      if (fs.bavail * fs.bsize < bytes + reserve) return null;
      const dir = await mkdtemp(join(parent, 'mqbak-restore-'));
      removeAtExit(dir);
      return new SegmentCopies(dir);
    } catch {
      return null;
    }
  }

  /**
   * Starts writing a copy of `bytes` (take waits for it); the promise settles once it is written
   * or failed, and never rejects. Until then the copy holds `bytes`: a caller that keeps many
   * copies waits for one before it starts the next, so that a slow disk does not pile them up.
   */
  keep(key: string, bytes: Uint8Array): Promise<void> {
    if (this.gone || this.files.has(key)) return Promise.resolve();
    const file = join(this.dir, String(this.next++));
    const written = writeFile(file, bytes, { mode: 0o600, flag: 'wx' }).then(
      () => file,
      () => {
        void unlink(file).catch(() => {});
        return null;
      },
    );
    this.files.set(key, written);
    return written.then(() => {});
  }

  has(key: string): boolean {
    return this.files.has(key);
  }

  /** Removes the copy of `key`, if any. */
  drop(key: string): void {
    const written = this.files.get(key);
    if (written === undefined) return;
    this.files.delete(key);
    this.reading++;
    void written.then((file) => (file === null ? undefined : unlink(file))).catch(() => {}).finally(() => void this.settled());
  }

  /**
   * The bytes of the copy of `key`, read once (the file is removed after), or null when there is
   * none or it could not be read: the caller then reads the store.
   */
  async take(key: string): Promise<Uint8Array | null> {
    const written = this.files.get(key);
    if (written === undefined) return null;
    this.files.delete(key);
    this.reading++;
    try {
      const file = await written;
      if (file === null) return null;
      try {
        const b = await readFile(file);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch {
        return null;
      } finally {
        await unlink(file).catch(() => {});
      }
    } finally {
      await this.settled();
    }
  }

  /** Removes every copy and the folder (also what is still being written). */
  async dispose(): Promise<void> {
    this.gone = true;
    const pending = [...this.files.values()];
    this.files.clear();
    await Promise.allSettled(pending);
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    live.delete(this.dir);
  }

  /** Once every copy was taken or dropped and no read is under way, the folder goes. */
  private async settled(): Promise<void> {
    this.reading--;
    if (this.files.size === 0 && this.reading === 0 && !this.gone) await this.dispose();
  }
}

const byStore = new WeakMap<Store, SegmentCopies>();

/** The copies a preflight made of `store`'s segments, for its write pass (restore-read-ahead.ts). */
export function attachCopies(store: Store, copies: SegmentCopies): void {
  const before = byStore.get(store);
  if (before !== undefined && before !== copies) void before.dispose();
  byStore.set(store, copies);
}

export function copiesOf(store: Store): SegmentCopies | null {
  return byStore.get(store) ?? null;
}
