/**
 * Canonical JSON: object keys sorted by UTF-16 code units (JavaScript's default sort, which for
 * the ASCII keys mqbak writes is byte order), no whitespace unless `indent` is given, numbers as
 * JavaScript prints them (shortest round-trip form). The same value always gives the same bytes,
 * which is what makes hashes of manifests and AMQP properties reproducible.
 */
export function canonicalJson(value: unknown, indent = 0): string {
  return write(value, indent, '');
}

function write(value: unknown, indent: number, pad: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object': {
      const inner = indent > 0 ? pad + ' '.repeat(indent) : '';
      const nl = indent > 0 ? '\n' : '';
      const colon = indent > 0 ? ': ' : ':';
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]';
        const parts = value.map((v) => inner + write(v === undefined ? null : v, indent, inner));
        return `[${nl}${parts.join(`,${nl}`)}${nl}${pad}]`;
      }
      if (value instanceof Uint8Array) throw new TypeError('canonical JSON: bytes must be encoded (base64) first');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      if (keys.length === 0) return '{}';
      const parts = keys.map((k) => `${inner}${JSON.stringify(k)}${colon}${write(obj[k], indent, inner)}`);
      return `{${nl}${parts.join(`,${nl}`)}${nl}${pad}}`;
    }
    case 'bigint':
      throw new TypeError('canonical JSON: bigint must be written as a decimal string');
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}
