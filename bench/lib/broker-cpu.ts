// The broker's CPU time during a run: utime + stime of its process(es) from /proc/<pid>/stat,
// read before and after the measured process (all threads of a process count in its own line).
// A broker is found by the port it listens on (`ss -ltnp`), which works for the shared RabbitMQ
// (beam.smp), a private nats-server and the Kafka mock alike; RabbitMQ falls back to a scan of
// /proc for a beam.smp whose command line names rabbit.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds (user + system) used so far by the processes `pids`; null if there are none or one is gone. */
export function cpuSeconds(pids: readonly number[]): number | null {
  if (pids.length === 0) return null;
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    // fields after the command name, which is in parentheses and may hold spaces: state is the
    // 3rd field of the line, utime and stime the 14th and 15th
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / clockTicks();
}

/** The pids of the processes listening on TCP `port` (any address); [] when there is none or `ss` is missing. */
export function listenerPids(port: number): number[] {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
  } catch {
    return [];
  }
}

const DEFAULT_PORTS: Record<string, number> = { amqp: 5672, amqps: 5671, nats: 4222, kafka: 9092 };

/** The port of the first broker URL (amqp://, nats://, kafka://) in `argv`, if any. */
export function brokerPortInArgv(argv: readonly string[]): number | undefined {
  for (const a of argv) {
    const m = /^(amqps?|nats|kafka):\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/,]+)(?::(\d+))?/.exec(a);
    if (m) return m[2] ? Number(m[2]) : DEFAULT_PORTS[m[1] as string];
  }
  return undefined;
}

/** The broker processes a command line talks to, found by the port of its broker URL. */
export function brokerPidsOfArgv(argv: readonly string[]): number[] {
  const port = brokerPortInArgv(argv);
  return port === undefined ? [] : listenerPids(port);
}

/** The RabbitMQ at `amqpUrl`: its listener, else every beam.smp process whose command line says rabbit. */
export function rabbitPids(amqpUrl: string): number[] {
  const byPort = brokerPidsOfArgv([amqpUrl]);
  if (byPort.length) return byPort;
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('beam.smp') && cmd.includes('rabbit')) found.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}
