/**
 * Getting the password of an encrypted store, and a new one for `key init|add|passwd`, from
 * where docs/ENCRYPTION.md section 8 says: --password-file / --password-command, then
 * MQBAK_PASSWORD_FILE / MQBAK_PASSWORD_COMMAND / MQBAK_PASSWORD, then a prompt without echo on a
 * terminal. Never from an argument. The prompt writes to stderr: stdout is for data.
 */
import { MqbakError } from '../common/errors.js';
import { choosePasswordSource, readPassword, readPasswordFile } from '../archive/encryption/password-source.js';
import { promptNewPassword, promptPassword } from '../archive/encryption/password-prompt.js';

function interactive(): boolean {
  return Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY);
}

/** The store password from the options, the environment or the prompt; none: usage error. */
export async function storePassword(opts: Record<string, unknown>, env: NodeJS.ProcessEnv, prompt = 'password: '): Promise<Buffer> {
  const source = choosePasswordSource(
    { passwordFile: opts.passwordFile as string | undefined, passwordCommand: opts.passwordCommand as string | undefined },
    env,
    interactive(),
  );
  return readPassword(source, { env, prompt: () => promptPassword(process.stdin, process.stderr, prompt) });
}

/** The new password of key init, add and passwd: --new-password-file, or typed twice on a terminal. */
export async function newPassword(opts: Record<string, unknown>): Promise<Buffer> {
  const file = opts.newPasswordFile as string | undefined;
  if (file !== undefined && file !== '') return readPasswordFile(file, '--new-password-file');
  if (!interactive()) {
    throw new MqbakError('usage', 'no new password given', { hint: 'pass --new-password-file FILE, or run on a terminal to type it' });
  }
  return promptNewPassword(process.stdin, process.stderr);
}
