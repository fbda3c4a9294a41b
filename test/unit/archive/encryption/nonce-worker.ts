/**
 * Run as a separate process by nonces.test.ts: makes backup ids the way a backup run does
 * (newBackupId at the current time) and prints, as JSON, the ids and a fingerprint of every
 * (key, nonce) pair it would use for a spread of block places and the manifest.
 *   node --import tsx nonce-worker.ts <master key hex> <backups> <places per backup> <seed>
 */
import { createHash } from 'node:crypto';
import { newBackupId } from '../../../../src/archive/keys.js';
import { blockNonce, manifestNonce } from '../../../../src/archive/encryption/nonce.js';
import { deriveBackupKeys } from '../../../../src/archive/encryption/subkeys.js';
import { xorshift32 } from '../../../helpers/random.js';

const [masterHex, backupsArg, placesArg, seedArg] = process.argv.slice(2);
const master = Buffer.from(masterHex!, 'hex');
const next = xorshift32(Number(seedArg));
const ids: string[] = [];
const pairs: string[] = [];
const fp = (key: Buffer, nonce: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 32) + ':' + nonce.toString('hex');
for (let b = 0; b < Number(backupsArg); b++) {
  const id = newBackupId(new Date());
  ids.push(id);
  const keys = deriveBackupKeys(master, id);
  pairs.push(fp(keys.manifest, manifestNonce()));
  for (let i = 0; i < Number(placesArg); i++) {
    // small numbers, so that different backups share places: only their keys keep them apart
    const place = { streamIndex: next() % 3, segmentSeq: next() % 3, blockIndex: i };
    pairs.push(fp(keys.segment, blockNonce(place)));
  }
}
process.stdout.write(JSON.stringify({ ids, pairs }));
