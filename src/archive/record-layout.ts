/**
 * The binary encoding of one ArchiveRecord (docs/FORMAT.md, "Record encoding"). All integers
 * little-endian; every variable field is length-prefixed; the length 0xFFFFFFFF means null, so
 * null stays distinct from empty.
 *
 *   u32  length of the rest of the record
 *   i64  position
 *   u8   timestamp flag (0 none, 1 present)      i64 timestamp (ms since epoch, 0 when none)
 *   u8   timestamp type (0 unknown, 1 create, 2 log-append)
 *   u32+ key      u32+ value
 *   u32  header count, then per header: u32+ name (UTF-8, never null), u32+ value
 *   u32+ attributes: canonical compact JSON of ArchiveRecord.attributes (UTF-8), or null
 *
 * record-encoder.ts writes it (from an ArchiveRecord or from columns), record-decoder.ts reads it
 * back (into an ArchiveRecord or into columns) with every check.
 */
import type { TimestampType } from '../common/record.js';

export const NULL_LENGTH = 0xffffffff;
/** The fixed part: length prefix, position, timestamp flag, timestamp, timestamp type. */
export const FIXED_SIZE = 4 + 8 + 1 + 8 + 1;
/** The timestamp types by their code in the record. */
export const TS_TYPES: ReadonlyArray<TimestampType | null> = [null, 'create', 'log-append'];
export const TWO_32 = 2 ** 32;
