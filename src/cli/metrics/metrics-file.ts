/**
 * --metrics-file: the run's metrics written for node_exporter's textfile collector. The file is
 * replaced atomically (a temporary file in the same folder, fsynced, then renamed), so the
 * collector never reads half a file.
 */
import { constants } from 'node:fs';
import { access, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MqbakError, messageOf } from '../../common/errors.js';
import { sampleValue } from './prometheus-text.js';

/**
 * Refuses, before any work, a metrics file that could not be written at the end: its folder
 * must exist and be writable, and the path must not be a folder.
 */
export async function checkMetricsFile(path: string): Promise<void> {
  const folder = dirname(path);
  try {
    const s = await stat(folder);
    if (!s.isDirectory()) throw new MqbakError('usage', `--metrics-file ${path}: ${folder} is not a folder`);
    await access(folder, constants.W_OK);
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw new MqbakError('usage', `--metrics-file ${path}: cannot write in ${folder} (${messageOf(e)})`);
  }
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new MqbakError('usage', `--metrics-file ${path}: is a folder`);
}

/** The previous file's last success time for these labels (seconds), or null. */
export async function previousLastSuccess(path: string, labels: Readonly<Record<string, string>>): Promise<number | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  return sampleValue(text, 'mqbak_last_success_timestamp_seconds', labels);
}

export async function writeMetricsFile(path: string, text: string): Promise<void> {
  // the collector reads *.prom only: the temporary name must not end in .prom
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const f = await open(tmp, 'wx', 0o644);
    try {
      await f.writeFile(text);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new MqbakError('unreachable', `write metrics file ${path}: ${messageOf(e)}`);
  }
}
