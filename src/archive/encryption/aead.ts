/**
 * AES-256-GCM, the one AEAD of mqbak's encryption: a 32-byte key, a 12-byte nonce, a 16-byte tag
 * stored after the ciphertext (`sealed = ciphertext || tag`). Everything that encrypts (key
 * files, blocks, manifests) goes through these two functions, so the cipher is chosen in one
 * place.
 *
 * Why sealing feeds the input in 64 KiB pieces into one preallocated output: Node allocates a fresh
 * buffer for every `update()` result, and a process sealing 1 MiB blocks with one `update()`
 * each (then joining the tag) measured 132-160 MB/s per CPU second here, most of it system
 * time, against 730-1,120 MB/s in 64 KiB pieces (docs/ENCRYPTION.md, "Speed"); the bytes
 * produced are identical either way.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

const PIECE = 64 * 1024;

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  // programming errors, not data errors: every caller builds keys and nonces itself
  if (key.length !== KEY_LENGTH) throw new RangeError(`AES-256-GCM key must be ${KEY_LENGTH} bytes, not ${key.length}`);
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`AES-256-GCM nonce must be ${NONCE_LENGTH} bytes, not ${nonce.length}`);
}

/** ciphertext || tag of `plaintext` (any length, also 0) under `key` and `nonce`, authenticating `aad`. */
export function gcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkKeyAndNonce(key, nonce);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const out = Buffer.allocUnsafe(plaintext.length + TAG_LENGTH);
  let o = 0;
  for (let p = 0; p < plaintext.length; p += PIECE) {
    const piece = cipher.update(plaintext.subarray(p, Math.min(p + PIECE, plaintext.length)));
    out.set(piece, o);
    o += piece.length;
  }
  const last = cipher.final(); // GCM is a stream mode: nothing is held back, but stay correct if it were
  out.set(last, o);
  o += last.length;
  out.set(cipher.getAuthTag(), o);
  return out;
}

/**
 * The plaintext of `sealed` (ciphertext || tag), or null when the tag does not verify: wrong
 * key, wrong nonce, wrong `aad` or changed bytes all look the same, on purpose. Callers turn
 * null into the error that fits (wrong password, damaged block). Nothing of a failed open is
 * returned: the unauthenticated plaintext is overwritten. `inPlace`: the plaintext is written over
 * the ciphertext in `sealed` (whose bytes are then no longer the sealed ones) and returned as a
 * view of it, so that a reader of many blocks holds no second copy of them.
 */
export function gcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, inPlace = false): Uint8Array | null {
  checkKeyAndNonce(key, nonce);
  if (sealed.length < TAG_LENGTH) return null;
  const n = sealed.length - TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(n));
  // opening takes one update(): on sealed blocks as a restore meets them (about 200 KiB, and
  // 400 KiB and 1 MiB of random bytes) that cost a third less CPU than 64 KiB pieces copied
  // into one buffer (2,480-2,570 against 1,610-1,810 MB per CPU second, 2026-12-05)
  const piece = decipher.update(sealed.subarray(0, n));
  const out = inPlace ? sealed.subarray(0, n) : piece;
  if (inPlace) out.set(piece);
  try {
    decipher.final();
  } catch {
    out.fill(0);
    piece.fill(0);
    return null;
  }
  return out;
}
