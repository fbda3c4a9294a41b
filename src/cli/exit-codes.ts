import type { ErrorCode } from '../common/errors.js';

/** The exit statuses, the same for every command (documented in every --help and the README). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  partial: 3,
  integrity: 4,
  unreachable: 5,
  notFound: 10,
  interrupted: 130,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'usage':
    case 'unsupported':
    case 'exists':
      return EXIT.usage;
    case 'partial':
      return EXIT.partial;
    case 'integrity':
      return EXIT.integrity;
    case 'unreachable':
      return EXIT.unreachable;
    case 'not-found':
      return EXIT.notFound;
    case 'interrupted':
      return EXIT.interrupted;
    case 'internal':
      return EXIT.internal;
  }
}

export const EXIT_STATUS_HELP = `
EXIT STATUS
  0    success
  1    internal error (a bug: please report it with --debug output)
  2    usage or configuration error
  3    partial: some records were not backed up or not republished
  4    integrity failure: the archive failed a size, checksum or hash check, or
       restore --check found a target record that differs from the archive
  5    broker or store unreachable, or refused, after retries; a store folder
       that cannot be written (read-only, full, no permission); a store locked
       by another mqbak past --lock-wait
  10   not found: a backup, a stream, a store folder or an S3 bucket
  130  interrupted (SIGINT or SIGTERM)`;
