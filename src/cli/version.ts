import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The version in package.json (dist/cli and src/cli are both two levels below it). */
export const TOOL_VERSION: string = (require('../../package.json') as { version: string }).version;
