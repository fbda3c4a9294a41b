// Placeholder until the S3 store lands (S3 task).
import { MqbakError } from '../common/errors.js';
import type { Store } from './store.js';
import type { S3Config } from './open.js';
export async function openS3Store(_bucket: string, _prefix: string, _config: S3Config): Promise<Store> {
  throw new MqbakError('internal', 's3 store not implemented yet');
}
