/** 'kafka' for kafka://, 'amqp' for amqp:// and amqps://, otherwise null. */
export function schemeOf(url: string): 'kafka' | 'amqp' | null {
  if (/^kafka:\/\//i.test(url)) return 'kafka';
  if (/^amqps?:\/\//i.test(url)) return 'amqp';
  return null;
}

/** A URL fit to print: the password is replaced by ***, the user kept. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2:***@');
}
