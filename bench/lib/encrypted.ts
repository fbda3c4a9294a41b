// The encrypted side of the Kafka scenario: a password file and encrypted stores made with
// `mqbak key init` at the default scrypt cost, so each encrypted run pays what a user's run pays
// (one key derivation, about 0.6 s here, when it opens the store).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The environment of every run on an encrypted store: its password in a file. */
export function encryptedEnv(work: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = join(work, 'bench.password');
  writeFileSync(file, 'bench password, not a secret\n', { mode: 0o600 });
  return { ...env, MQBAK_PASSWORD_FILE: file };
}

/** Makes `store` (which must not exist yet) an encrypted store with that password. */
export function initEncryptedStore(mqbakBin: string, store: string, env: NodeJS.ProcessEnv): void {
  execFileSync('node', [mqbakBin, 'key', 'init', store, '--new-password-file', env.MQBAK_PASSWORD_FILE!, '-q'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}
