/**
 * Canonical JSON: object keys sorted by UTF-16 code units (JavaScript's default sort, which for
 * the ASCII keys mqbak writes is byte order), no whitespace unless `indent` is given, numbers as
 * JavaScript prints them (shortest round-trip form). The same value always gives the same bytes,
 * which is what makes hashes of manifests and the bytes of record attributes reproducible.
 */
export function canonicalJson(value: unknown, indent = 0): string {
  return indent > 0 ? write(value, indent, '') : compact(value);
}

/** JSON.stringify of object keys, which repeat from value to value (the attributes of every drained RabbitMQ message). */
const quotedKeys = new Map<string, string>();

function quoted(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < 4096) quotedKeys.set(k, q);
  }
  return q;
}

/**
 * write() without indentation, built by appending to one string (no array of parts per object or
 * array): the attributes of every drained RabbitMQ message go through it.
 */
function compact(value: unknown): string {
  const s = scalar(value);
  if (s !== null) return s;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += (i > 0 ? ',' : '') + compact(v === undefined ? null : v);
    }
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    out += (first ? '' : ',') + quoted(k) + ':' + compact(v);
    first = false;
  }
  return out + '}';
}

/** The JSON of anything but an object or array (null for those); throws for what JSON cannot hold. */
function scalar(value: unknown): string | null {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object':
      if (value instanceof Uint8Array) throw new TypeError('canonical JSON: bytes must be encoded (base64) first');
      return null;
    case 'bigint':
      throw new TypeError('canonical JSON: bigint must be written as a decimal string');
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

function write(value: unknown, indent: number, pad: string): string {
  const s = scalar(value);
  if (s !== null) return s;
  const inner = pad + ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const parts = value.map((v) => inner + write(v === undefined ? null : v, indent, inner));
    return `[\n${parts.join(',\n')}\n${pad}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  if (keys.length === 0) return '{}';
  const parts = keys.map((k) => `${inner}${JSON.stringify(k)}: ${write(obj[k], indent, inner)}`);
  return `{\n${parts.join(',\n')}\n${pad}}`;
}
