// Placeholder until the local store lands (archive task).
import { MqbakError } from '../common/errors.js';
import type { Store } from './store.js';
export const LocalStore = class {
  constructor(_root: string) {
    throw new MqbakError('internal', 'local store not implemented yet');
  }
} as unknown as new (root: string) => Store;
