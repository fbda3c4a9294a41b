/**
 * A Kafka test broker (mockd, test/brokers/kafka-mock/) run by the caller: the vitest
 * globalSetup runs the shared one this way, and a fault test runs its own (say 3 brokers) so
 * that the leader moves, downed brokers and injected errors it commands disturb no other test.
 *
 *   const mock = await startKafkaMock({ brokers: 3 });
 *   await mock.send('leader my-topic 0 2');   // throws unless mockd answers ok
 *   ...
 *   await mock.stop();
 *
 * The commands are mockd's stdin commands, documented in test/brokers/kafka-mock/README.md.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const KAFKA_MOCK_SH = fileURLToPath(new URL('../brokers/kafka-mock.sh', import.meta.url));

export interface KafkaMock {
  /** host:port of each broker, broker id 1 first (ids are 1..brokers). */
  readonly brokers: string[];
  /** librdkafka version of the mock (its VERSION line). */
  readonly version: string;
  /** Sends one command line and returns mockd's answer line as it is (`ok`, `ok <value>`, `err ...`). */
  command(line: string): Promise<string>;
  /** Sends one command line; throws unless it is answered `ok`; returns what follows `ok ` (or ''). */
  send(line: string): Promise<string>;
  /** Stops mockd (all its data is lost); harmless to call twice. */
  stop(): Promise<void>;
  /** mockd's last stderr output, for failure messages. */
  stderr(): string;
}

export interface KafkaMockOptions {
  /** Broker count (default 1). */
  brokers?: number;
  /** Topics created at start, as `name:partitions` or `name:partitions:replication`. */
  topics?: string[];
  /** Extra environment (MOCKD_DEBUG, RDKAFKA_MOCK_PARTITION_MAX_BYTES...). */
  env?: NodeJS.ProcessEnv;
}

/** Builds the mock broker once (cached by kafka-mock.sh; about a minute the first time) and returns its path. */
export function mockdBinary(): string {
  const r = spawnSync('bash', [KAFKA_MOCK_SH, 'build'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`test/brokers/kafka-mock.sh build failed (${why}):\n${r.stderr.trim()}`);
  }
  // the build's one-time progress note goes to stderr: let people see why the first run waits
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  const bin = r.stdout.trim().split('\n').pop();
  if (!bin) throw new Error('test/brokers/kafka-mock.sh build printed no path');
  return bin;
}

/** Starts a mockd of the caller's own and waits for its BOOTSTRAP line. */
export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const bin = mockdBinary();
  const args = [String(options.brokers ?? 1), ...(options.topics ?? [])];
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const replies = new LineQueue();
  let version = '';
  const booted = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mockd printed no BOOTSTRAP line in 20 s\n${stderr}`)), 20_000);
    child.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const why = `mockd exited (${code ?? signal})${stderr ? `:\n${stderr}` : ''}`;
      reject(new Error(why));
      replies.fail(new Error(why));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('BOOTSTRAP ')) {
        clearTimeout(timer);
        resolve(line.slice('BOOTSTRAP '.length).trim());
      } else if (line.startsWith('VERSION ')) {
        version = line.slice('VERSION '.length).trim();
      } else if (line === 'ok' || line.startsWith('ok ') || line.startsWith('err')) {
        replies.push(line);
      }
    });
  });
  // mockd acts on SIGTERM only once its stdin is closed; `quit` makes it exit at once
  const killChild = (): void => {
    if (child.stdin.writable) child.stdin.end('quit\n');
    child.kill('SIGTERM');
  };
  // if the test process is interrupted, do not leave mockd serving forever (it ignores stdin EOF)
  process.once('exit', killChild);
  let bootstrap: string;
  try {
    bootstrap = await booted;
  } catch (e) {
    killChild();
    process.removeListener('exit', killChild);
    throw e;
  }
  const command = serialCommands(child, replies);
  return {
    brokers: bootstrap.split(',').filter((s) => s !== ''),
    version,
    command,
    async send(line: string): Promise<string> {
      const reply = await command(line);
      if (reply === 'ok') return '';
      if (reply.startsWith('ok ')) return reply.slice(3);
      throw new Error(`kafka mock: ${line}: ${reply}`);
    },
    stderr: () => stderr,
    async stop(): Promise<void> {
      process.removeListener('exit', killChild);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killChild();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Commands go to mockd one at a time, because its replies carry no id to match them by; a line
 * with a newline inside would desynchronise the replies, so it is refused.
 */
function serialCommands(child: ChildProcessWithoutNullStreams, replies: LineQueue): (line: string) => Promise<string> {
  let chain: Promise<unknown> = Promise.resolve();
  return (line: string) => {
    const clean = line.trim();
    if (clean === '' || /[\r\n]/.test(clean)) return Promise.reject(new Error(`not one mockd command: ${JSON.stringify(line)}`));
    const result = chain.then(async () => {
      child.stdin.write(`${clean}\n`);
      return replies.next(30_000);
    });
    chain = result.catch(() => undefined);
    return result;
  };
}

/** Lines that arrive before or after someone waits for them. */
class LineQueue {
  private lines: string[] = [];
  private waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;
  push(line: string): void {
    const w = this.waiters.shift();
    if (w) w.resolve(line);
    else this.lines.push(line);
  }
  fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
  next(timeoutMs: number): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no reply from mockd in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}
