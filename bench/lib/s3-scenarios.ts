// The S3 scenarios of `npm run bench` (--only s3): the Kafka backup and restore into an S3 store
// (a private s3rver on this machine, started by test/brokers/s3rver.sh in a state folder of its
// own) and into a local folder, in the same run, one after the other in each rep, so that both
// see the same load. s3rver shares the machine's CPUs with mqbak: the ratio is of mqbak with its
// server, not of the S3 store alone.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { MockKafka } from './kafka.js';
import { ROOT, env, finish, log, mqbak, record, sample, type ScenarioArgs } from './harness.js';

/** The names of the four measures, for the targets in run.ts. */
export const S3_RUNS = {
  backupLocal: 's3 run: kafka backup: mqbak to a local folder',
  backupS3: 's3 run: kafka backup: mqbak to s3rver',
  restoreLocal: 's3 run: kafka restore: mqbak from a local folder',
  restoreS3: 's3 run: kafka restore: mqbak from s3rver',
} as const;

const SCRIPT = join(ROOT, 'test', 'brokers', 's3rver.sh');

export async function s3Scenarios(a: ScenarioArgs, work: string, mockd: string, dataFile: string, n: number, rawBytes: number): Promise<void> {
  const state = mkdtempSync(join(work, 's3rver-state-'));
  // MQBAK_S3RVER_PORT unset: s3rver picks a free port
  const endpoint = execFileSync('bash', [SCRIPT, 'start', state], { encoding: 'utf8', env: { ...process.env, MQBAK_S3RVER_PORT: '' } }).trim().split('\n').pop()!;
  const k = await MockKafka.start(mockd);
  try {
    log(`s3: s3rver at ${endpoint} (state ${state})`);
    const bucket = 'mqbak-bench';
    const s3env = {
      ...env,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      MQBAK_S3_ENDPOINT: endpoint,
      MQBAK_S3_PATH_STYLE: '1',
      // s3rver stores the SDK's checksum trailers inside objects and answers no checksums (docs/S3.md)
      MQBAK_S3_CHECKSUM: 'when-required',
    };
    // (the SDK warns at every client that Node 20 support ends in 2027: noise in the bench output)
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }

    const src = 'bench-s3-events';
    await k.seedTopic(src, dataFile, n, 's3');
    const url = `kafka://${k.bootstrap}`;

    const backupLocal = record(S3_RUNS.backupLocal, 'mqbak', n, rawBytes);
    const backupS3 = record(S3_RUNS.backupS3, 'mqbak', n, rawBytes);
    let local = '';
    let remote = '';
    for (let i = 0; i < a.reps; i++) {
      // alternate which goes first, so that neither always meets a warmer page cache or broker
      local = join(work, `s3run-local-${i}`);
      remote = `s3://${bucket}/run-${i}`;
      const runs: [typeof backupLocal, string, NodeJS.ProcessEnv][] = [
        [backupLocal, local, env],
        [backupS3, remote, s3env],
      ];
      if (i % 2 === 1) runs.reverse();
      for (const [m, store, e] of runs) await sample(m, mqbak(['backup', url, store, '--topics', src]), { env: e });
    }
    [backupLocal, backupS3].forEach(finish);

    const restoreLocal = record(S3_RUNS.restoreLocal, 'mqbak', n, rawBytes);
    const restoreS3 = record(S3_RUNS.restoreS3, 'mqbak', n, rawBytes);
    if (!backupLocal.samples.length) restoreLocal.error = 'no local backup to restore';
    if (!backupS3.samples.length) restoreS3.error = 'no S3 backup to restore';
    for (let i = 0; i < a.reps; i++) {
      const runs: [typeof restoreLocal, string, NodeJS.ProcessEnv, string][] = [
        [restoreLocal, local, env, `s3run-local-${i}`],
        [restoreS3, remote, s3env, `s3run-s3-${i}`],
      ];
      if (i % 2 === 1) runs.reverse();
      for (const [m, store, e, topic] of runs) {
        if (m.error) continue;
        await k.createTopic(topic, 3);
        await sample(m, mqbak(['restore', store, url, '--topics', src, '--map', `${src}=${topic}`]), { env: e });
        await k.deleteTopic(topic);
      }
    }
    [restoreLocal, restoreS3].forEach(finish);
  } finally {
    await k.stop();
    execFileSync('bash', [SCRIPT, 'stop', state], { stdio: 'ignore' });
    if (!a.keep) rmSync(state, { recursive: true, force: true });
  }
}
