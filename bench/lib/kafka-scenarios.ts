// The Kafka scenarios of `npm run bench`: backup against kcat -C alone, kcat | zstd and a kafkajs reader, restore
// against kcat -P and the kafkajs producer, verify; plain, with zstd-codec and into an encrypted store.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MockKafka } from './kafka.js';
import { measure } from './proc.js';
import { encryptedEnv, initEncryptedStore } from './encrypted.js';
import { sampleRounds } from './reps.js';
import { MQBAK, TSX, W, dirBytes, env, finish, log, mqbak, record, sample, type Measure, type ScenarioArgs } from './harness.js';

export async function kafkaScenarios(a: ScenarioArgs, work: string, mockd: string, dataFile: string, n: number, rawBytes: number, profileDir?: string): Promise<void> {
  const k = await MockKafka.start(mockd);
  try {
    const src = 'bench-events';
    await k.seedTopic(src, dataFile, n, 'kafka');
    const url = `kafka://${k.bootstrap}`;

    const broker = [k.pid];

    // 1. backup
    // reading alone, nothing written: the ceiling for any backup from this broker
    const kcatRead = record('kafka backup: kcat -C read only', 'baseline', n, rawBytes);
    const kcatBackup = record('kafka backup: kcat -C | zstd -3', 'baseline', n, rawBytes);
    const kjsRead = record('kafka backup: kafkajs eachBatch read only', 'baseline', n, rawBytes);
    const mqBackup = record('kafka backup: mqbak', 'mqbak', n, rawBytes);
    // the same with zstd-codec (WebAssembly), as where the optional native binding is missing
    const mqBackupWasm = record('kafka backup: mqbak, zstd-codec (MQBAK_ZSTD=wasm)', 'mqbak', n, rawBytes);
    // the same into an encrypted store (docs/ENCRYPTION.md): every block and manifest sealed
    const mqBackupEnc = record('kafka backup: mqbak, encrypted store', 'mqbak', n, rawBytes);
    const encEnv = encryptedEnv(work, env);
    const kcatFile = join(work, 'kcat.zst');
    let store = '';
    let encStore = '';
    const backups = [kcatRead, kcatBackup, kjsRead, mqBackup, mqBackupWasm, mqBackupEnc];
    await sampleRounds(backups, a.reps, async (i, want) => {
      if (want(kcatRead)) await sample(kcatRead, [`kcat -C -b ${k.bootstrap} -t ${src} -e -o beginning -q > /dev/null`], { shell: true, broker });
      if (want(kcatBackup)) {
        await sample(kcatBackup, [
          `kcat -C -b ${k.bootstrap} -t ${src} -e -o beginning -q -f '%k\\t%s\\n' | zstd -3 -q -f -o ${kcatFile}`,
        ], { shell: true, broker });
      }
      if (want(kjsRead)) await sample(kjsRead, [...TSX, W('kafkajs-consume.ts'), k.bootstrap, src, String(n)], { env, broker });
      if (want(mqBackup)) {
        store = join(work, `kstore-${i}`);
        rmSync(store, { recursive: true, force: true });
        await sample(mqBackup, mqbak(['backup', url, store, '--topics', src], i === 0 ? profileDir : undefined), { env, broker });
      }
      if (want(mqBackupWasm)) {
        const wasmStore = join(work, `kstore-wasm-${i}`);
        await sample(mqBackupWasm, mqbak(['backup', url, wasmStore, '--topics', src]), { env: { ...env, MQBAK_ZSTD: 'wasm' }, broker });
        rmSync(wasmStore, { recursive: true, force: true });
      }
      if (want(mqBackupEnc)) {
        encStore = join(work, `kstore-enc-${i}`);
        rmSync(encStore, { recursive: true, force: true });
        initEncryptedStore(MQBAK, encStore, encEnv);
        await sample(mqBackupEnc, mqbak(['backup', url, encStore, '--topics', src]), { env: encEnv, broker });
      }
    });
    backups.forEach(finish);
    if (existsSync(kcatFile)) kcatBackup.bytes = rawBytes;

    // 4. verify
    const ver = record('kafka verify: mqbak', 'mqbak', n, rawBytes);
    if (mqBackup.samples.length && existsSync(store)) {
      (ver as Measure & { storedBytes?: number }).storedBytes = dirBytes(store);
      for (let i = 0; i < a.reps; i++) await sample(ver, mqbak(['verify', store]), { env, broker: [] });
    } else ver.error = 'no mqbak Kafka backup to verify';
    finish(ver);

    // 2. restore
    const rawFile = join(work, 'kcat.raw');
    if (existsSync(kcatFile)) execFileSync('zstd', ['-d', '-q', '-f', kcatFile, '-o', rawFile]);
    const kcatP = record('kafka restore: kcat -P from a file', 'baseline', n, rawBytes);
    const kcatProduce = (topic: string) => ['kcat', '-P', '-b', k.bootstrap, '-t', topic, '-K', '\t', '-X', 'enable.idempotence=true', '-X', 'acks=all', '-l', rawFile];
    const kjsP = record('kafka restore: kafkajs producer acks -1 idempotent', 'baseline', n, rawBytes);
    const mqRestore = record('kafka restore: mqbak', 'mqbak', n, rawBytes);
    const mqRestoreEnc = record('kafka restore: mqbak, encrypted store', 'mqbak', n, rawBytes);
    // the same restore without the preflight's verify pass: the work builds before the preflight did
    const mqRestoreSizes = record('kafka restore: mqbak, --preflight sizes', 'mqbak', n, rawBytes);
    // each run into a new topic of its own, deleted after it
    const into = async (t: string, run: () => Promise<unknown>) => {
      await k.createTopic(t, 3);
      await run();
      await k.deleteTopic(t);
    };
    const restores = [kcatP, kjsP, mqRestore, mqRestoreEnc, mqRestoreSizes];
    // One restore's worth of records into a topic deleted at once, unmeasured, before the first
    // sample: the mock's memory then already holds a restored topic's worth (freed, ready to use
    // again) for every sample, the first one included. Without it the first sample of a run (kcat
    // -P's) paid for the mock's heap growing by a topic's worth: 4.4 s of the mock's CPU against
    // 0.5-1.0 s for the later ones at 09:23 (9.19 s against 3.10-4.34 s of wall time).
    if (existsSync(rawFile)) {
      await into('warm-up', () => measure(kcatProduce('warm-up'), { env }));
    }
    await sampleRounds(restores, a.reps, async (i, want) => {
      if (!want(kcatP)) {
        /* enough samples */
      } else if (existsSync(rawFile)) {
        await into(`kcatp-${i}`, () => sample(kcatP, kcatProduce(`kcatp-${i}`), { broker }));
      } else kcatP.error = 'no kcat backup file';
      if (want(kjsP)) await into(`kjs-${i}`, () => sample(kjsP, [...TSX, W('kafkajs-produce.ts'), k.bootstrap, `kjs-${i}`, dataFile], { env, broker }));
      if (!want(mqRestore)) {
        /* enough samples */
      } else if (mqBackup.samples.length) {
        const t3 = `mq-${i}`;
        await into(t3, () => sample(mqRestore, mqbak(['restore', store, url, '--topics', src, '--map', `${src}=${t3}`], i === 0 ? profileDir : undefined), { env, broker }));
      } else mqRestore.error = 'no mqbak Kafka backup to restore';
      if (!want(mqRestoreEnc)) {
        /* enough samples */
      } else if (mqBackupEnc.samples.length) {
        const t4 = `mq-enc-${i}`;
        await into(t4, () => sample(mqRestoreEnc, mqbak(['restore', encStore, url, '--topics', src, '--map', `${src}=${t4}`]), { env: encEnv, broker }));
      } else mqRestoreEnc.error = 'no encrypted mqbak Kafka backup to restore';
      if (!want(mqRestoreSizes)) {
        /* enough samples */
      } else if (mqBackup.samples.length) {
        const t5 = `mq-sizes-${i}`;
        await into(t5, () => sample(mqRestoreSizes, mqbak(['restore', store, url, '--topics', src, '--map', `${src}=${t5}`, '--preflight', 'sizes']), { env, broker }));
      } else mqRestoreSizes.error = 'no mqbak Kafka backup to restore';
    });
    restores.forEach(finish);
  } finally {
    await k.stop();
  }
}
