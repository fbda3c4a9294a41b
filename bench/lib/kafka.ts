// One librdkafka mock cluster (mockd) per scenario, so RAM held by earlier topics never piles up.
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TSX, W, env, log } from './harness.js';
import { measure } from './proc.js';

export class MockKafka {
  private replies: ((line: string) => void)[] = [];
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly bootstrap: string,
    lines: AsyncIterableIterator<string>,
  ) {
    void (async () => {
      for await (const line of lines) {
        const r = this.replies.shift();
        if (r) r(line);
      }
    })();
  }

  static binary(root: string): string {
    return execFileSync('bash', [`${root}/test/brokers/kafka-mock.sh`, 'build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }

  static async start(binary: string): Promise<MockKafka> {
    const child = spawn(binary, ['1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.resume();
    const rl = createInterface({ input: child.stdout });
    const it = rl[Symbol.asyncIterator]();
    for (;;) {
      const { value, done } = await it.next();
      if (done) throw new Error('mockd exited before printing BOOTSTRAP');
      const m = /^BOOTSTRAP (\S+)/.exec(value);
      if (m) return new MockKafka(child, m[1] as string, it);
    }
  }

  /** Sends one command and waits for its "ok"/"err" answer (VERSION and other lines are skipped). */
  async command(command: string): Promise<void> {
    let cmd = command;
    for (;;) {
      const line = await new Promise<string>((res) => {
        this.replies.push(res);
        if (cmd) this.child.stdin.write(cmd + '\n');
        cmd = '';
      });
      if (line.startsWith('ok')) return;
      if (line.startsWith('err')) throw new Error(`mockd ${command}: ${line}`);
    }
  }

  /** mockd's pid, for its CPU time (bench/lib/broker-cpu.ts) */
  get pid(): number {
    return this.child.pid as number;
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    await this.command(`create ${name} ${partitions}`);
  }

  /** Creates `topic` with 3 partitions and produces the records of `dataFile` into it (kafkajs). */
  async seedTopic(topic: string, dataFile: string, n: number, what: string): Promise<void> {
    await this.createTopic(topic, 3);
    log(`${what}: seeding ${n} records into ${topic} (3 partitions) at ${this.bootstrap}`);
    const seed = await measure([...TSX, W('kafkajs-produce.ts'), this.bootstrap, topic, dataFile], { env });
    if (seed.code !== 0) throw new Error(`seeding failed: ${seed.stderr.slice(-500)}`);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.command(`delete ${name}`);
  }

  rssMb(): number | null {
    try {
      const s = execFileSync('cat', [`/proc/${this.child.pid}/status`], { encoding: 'utf8' });
      const m = /VmRSS:\s+(\d+)/.exec(s);
      return m ? Number(m[1]) / 1024 : null;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((res) => this.child.on('exit', res));
    // mockd blocks SIGTERM while it reads commands: "quit" (and EOF) end it; SIGKILL if it hangs
    this.child.stdin.end('quit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}
