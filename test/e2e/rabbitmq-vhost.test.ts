/**
 * A RabbitMQ vhost that does not exist, through the binary (issue 14): restore into it and
 * backup from it end with exit 10 and one error line naming the vhost, also when the
 * management API cannot be asked and only the AMQP connection tells (RabbitMQ closes it in
 * answer to connection.open; amqplib 2.3 keeps not its text: this was exit 5 with
 * "Expected ConnectionOpenOk; got <ConnectionClose channel:0>").
 */
import { describe, expect, it } from 'vitest';
import { freePort, rabbitUrl, uniqueName } from '../helpers/brokers.js';
import { declare, env, listFiles, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const { newVhost, newStore } = useRabbitE2e();

/** Exit 10, one error line naming the vhost (and at most a hint), no stack trace. */
function expectVhostNotFound(r: RunResult, vhost: string): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(10);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('mqbak: error: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toContain(`vhost "${vhost}"`);
  expect(errors[0]).not.toMatch(/ConnectionClose|ConnectionOpenOk/);
}

async function backupOfOneQueue(): Promise<string> {
  const { url, conn } = await newVhost('vh-src');
  await declare(conn, 'jobs');
  const ch = await conn.model.createConfirmChannel();
  for (let i = 0; i < 3; i++) ch.sendToQueue('jobs', Buffer.from(`m${i}`), { persistent: true });
  await ch.waitForConfirms();
  await ch.close();
  const store = await newStore();
  const b = await runMqbak(['backup', url, store, '--queues', 'jobs'], { env });
  expect(b.code, b.stderr).toBe(0);
  return store;
}

describe('a RabbitMQ vhost that does not exist', () => {
  it('restore into it with the management API unreachable: exit 10 naming the vhost, from the AMQP connection', async () => {
    const store = await backupOfOneQueue();
    const missing = uniqueName('vh-missing');
    const r = await runMqbak(['restore', store, rabbitUrl(missing)], {
      env: { MQBAK_RABBITMQ_MANAGEMENT_URL: `http://127.0.0.1:${await freePort()}`, XDG_STATE_HOME: store },
    });
    expectVhostNotFound(r, missing);
  }, 60_000);

  it('restore into it with the management API up: exit 10 naming the vhost', async () => {
    const store = await backupOfOneQueue();
    const missing = uniqueName('vh-missing');
    const r = await runMqbak(['restore', store, rabbitUrl(missing)], { env: { ...env, XDG_STATE_HOME: store } });
    expectVhostNotFound(r, missing);
  }, 60_000);

  it('backup from it: exit 10 naming the vhost, nothing written', async () => {
    const missing = uniqueName('vh-missing');
    const store = await newStore();
    const r = await runMqbak(['backup', rabbitUrl(missing), store, '--all-queues'], { env });
    expectVhostNotFound(r, missing);
    expect((await listFiles(store)).filter((f) => f.includes('/manifests/') || f.includes('/segments/'))).toEqual([]);
  }, 60_000);
});
