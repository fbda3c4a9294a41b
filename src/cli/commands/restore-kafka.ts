import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';

export async function run(_ctx: CliContext, _args: string[], _opts: Record<string, unknown>): Promise<number> {
  throw new MqbakError('internal', 'restore-kafka is not available in this build yet');
}
