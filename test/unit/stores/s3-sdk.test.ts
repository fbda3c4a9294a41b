import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as imported from '@aws-sdk/client-s3';
import * as sdk from '../../../src/stores/s3-sdk.js';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** The import and export statements of `text` that name the SDK's S3 client module. */
function sdkStatements(text: string): string[] {
  return [...text.matchAll(/(?:^|[\s;])((?:import|export)\s[^;]*?from\s*['"]@aws-sdk\/client-s3['"])/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
}

describe('s3-sdk', () => {
  it("gives the SDK's own classes, the ones an import of the SDK gives", () => {
    // errors the SDK throws and commands made elsewhere (tests, tools) must be the same classes
    for (const name of ['S3Client', 'PutObjectCommand', 'HeadObjectCommand', 'GetObjectCommand', 'ListObjectsV2Command', 'DeleteObjectCommand', 'UploadPartCommand'] as const) {
      expect(sdk[name], name).toBe(imported[name]);
    }
    expect(new sdk.PutObjectCommand({ Bucket: 'b', Key: 'k' })).toBeInstanceOf(imported.PutObjectCommand);
  });

  it('is the only file of src/ that loads the SDK: the others import its types only', () => {
    const loading: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file).split('\\').join('/');
      if (rel === 'stores/s3-sdk.ts') continue;
      const text = withoutComments(readFileSync(file, 'utf8'));
      // an import of values (or `import { type X }`, which verbatimModuleSyntax keeps as an import) loads the module
      for (const s of sdkStatements(text)) if (!/^(?:import|export) type\s/.test(s)) loading.push(`${rel}: ${s}`);
      if (/\b(?:require|import)\(\s*['"]@aws-sdk\/client-s3['"]\s*\)/.test(text)) loading.push(`${rel}: dynamic import`);
    }
    expect(loading).toEqual([]);
    // and the rule sees what it looks for
    expect(sdkStatements("import { PutObjectCommand } from '@aws-sdk/client-s3';")).toHaveLength(1);
    expect(sdkStatements("import type { S3Client } from '@aws-sdk/client-s3';")[0]).toMatch(/^import type /);
  });
});
