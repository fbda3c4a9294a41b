/**
 * Reading a GetObject body. The SDK's transformToByteArray keeps every chunk the socket gives and
 * joins them at the end, so an object is held twice at that moment and its chunks are garbage
 * right after; with the length the server states, the body is copied chunk by chunk into one
 * buffer of that size instead. A body that is not a Node stream, or without a stated length, goes
 * through the SDK's own collector.
 */
import { Readable } from 'node:stream';
import { MqbakError } from '../common/errors.js';

/** What GetObject answers with: a Node stream with the SDK's mixin (or, elsewhere, another stream). */
export interface GetBody {
  transformToByteArray(): Promise<Uint8Array>;
}

/**
 * The whole body, exactly `length` bytes when the server stated a length: more or fewer is
 * 'integrity' (retriable: the connection may have been cut). `store` and `key` name the object.
 */
export async function readGetBody(body: GetBody, length: number | undefined, store: string, key: string): Promise<Uint8Array> {
  if (!(body instanceof Readable) || length === undefined || !Number.isSafeInteger(length) || length < 0) {
    const bytes = await body.transformToByteArray();
    if (length !== undefined && bytes.length !== length) throw short(store, key, bytes.length, length);
    return bytes;
  }
  // not zeroed: every byte is written below, or the buffer is not handed out
  const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
  let at = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (at + chunk.length > length) {
      body.destroy();
      throw new MqbakError('integrity', `${store}: the server sent more than the ${length} bytes it stated of ${key}`, { retriable: true });
    }
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== length) throw short(store, key, at, length);
  return out;
}

function short(store: string, key: string, read: number, length: number): MqbakError {
  return new MqbakError('integrity', `${store}: read ${read} of ${length} bytes of ${key}`, { retriable: true });
}
