/**
 * CRC-32C of record batches in a worker thread: the restore's main thread reads, decodes and
 * encodes while the checksum of the previous batch is computed beside it. A batch's memory moves
 * to the worker and back (no copy); the worker writes the CRC into the batch header.
 */
import { Worker } from 'node:worker_threads';
import { MqbakError } from '../../common/errors.js';
import { crc32cTables, crc32cWith } from './crc32c.js';

// plain CommonJS given as a string, as in src/archive/zstd-pool.ts: no build step, runs the same
// from dist/ and from the TypeScript sources
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crc32cWith = ${crc32cWith.toString()};
parentPort.on('message', (m) => {
  const bytes = new Uint8Array(m.buffer, m.byteOffset, m.length);
  const crc = crc32cWith(workerData.tables, bytes, m.start, m.end);
  new DataView(m.buffer, m.byteOffset, m.length).setUint32(m.at, crc, false);
  parentPort.postMessage({ id: m.id, buffer: m.buffer, crc }, [m.buffer]);
});
`;

interface Job {
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
  byteOffset: number;
  length: number;
}

export class Crc32cWorker {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { tables: crc32cTables() } });
    w.unref();
    w.on('message', (m: { id: number; buffer: ArrayBuffer }) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (this.jobs.size === 0) w.unref();
      job.resolve(Buffer.from(m.buffer, job.byteOffset, job.length));
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = null;
      for (const job of this.jobs.values()) job.reject(new MqbakError('internal', `CRC-32C worker: ${why}`));
      this.jobs.clear();
    };
    w.on('error', (e) => fail(e.message));
    w.on('exit', (code) => fail(`exited with code ${code}`));
    return w;
  }

  /**
   * Writes the CRC-32C of buf[start, end) big-endian at `at`. `buf` must own its ArrayBuffer
   * (not a slice of Buffer's shared pool): that memory moves to the worker, so `buf` is empty
   * afterwards; the returned Buffer is the same memory, back, with the CRC in place.
   */
  fill(buf: Buffer, at: number, start: number, end: number): Promise<Buffer> {
    const w = (this.worker ??= this.spawn());
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, byteOffset: buf.byteOffset, length: buf.length });
      w.ref();
      w.postMessage({ id, buffer: buf.buffer, byteOffset: buf.byteOffset, length: buf.length, at, start, end }, [buf.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
