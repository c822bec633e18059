import type { KeyObject } from 'node:crypto';
import { optionChecks, type OptionChecks } from '../options.js';
import { CryptoError } from './errors.js';
import { nodeCrypto } from '../load.js';

/** Options of {@link Fernet.encrypt}. */
export interface FernetEncryptOptions {
  /** Creation time written into the token (whole seconds, rounded down). @defaultValue `new Date()` */
  now?: Date | number;
  /** The 16-byte IV, for reproducible tests only: never reuse one in production. @defaultValue 16 random bytes */
  iv?: Uint8Array;
}

/** Options of {@link Fernet.decrypt}. */
export interface FernetDecryptOptions {
  /**
   * Maximum token age in seconds: older tokens are refused, and so are tokens dated more than 60 s in the
   * future (clock skew allowance). @defaultValue undefined (no age limit, no future check, like the references)
   */
  ttlSec?: number;
  /** The time to check `ttlSec` against (a Date or epoch milliseconds). @defaultValue `new Date()` */
  now?: Date | number;
}

/** Tokens dated up to this many seconds after `now` still open (the reference implementations' allowance). */
export const FERNET_MAX_CLOCK_SKEW_SEC = 60;

const VERSION = 0x80;
const HEADER = 1 + 8 + 16; // version, timestamp, IV
const MAC_LENGTH = 32;
const BLOCK = 16;

/**
 * Fresh IVs are cut from a pool of CSPRNG output refilled every 256 tokens (one `randomFillSync` call each
 * time instead of one per token, as `crypto.randomUUID` caches its entropy). Each 16 bytes are used once; an
 * IV is public (it is in the token), only its unpredictability matters. Process-wide on purpose: every Fernet
 * draws from it, and no IV is ever handed out twice, so instances share nothing they could observe.
 */
const ivPool = Buffer.allocUnsafe(BLOCK * 256);
let ivOffset = ivPool.length;

/** 16 unused random bytes (a view into the pool, valid until the next call: copy before any await). */
function freshIv(): Buffer {
  if (ivOffset === ivPool.length) {
    nodeCrypto().randomFillSync(ivPool);
    ivOffset = 0;
  }
  ivOffset += BLOCK;
  return ivPool.subarray(ivOffset - BLOCK, ivOffset);
}
/** The shortest valid token: header, one cipher block, MAC. */
const MIN_TOKEN = HEADER + BLOCK + MAC_LENGTH;
const PADDING = ['', '==', '='];
const KEY_TEXT = /^[A-Za-z0-9_-]{43}=$/;
const TOKEN_TEXT = /^[A-Za-z0-9_-]+={0,2}$/;
/** The one message of every token failure: no failure is told apart from another. */
const INVALID_MESSAGE = 'Invalid Fernet token';

interface FernetKey {
  signing: KeyObject;
  encryption: KeyObject;
}

function invalid(): CryptoError {
  return new CryptoError(INVALID_MESSAGE, { code: 'ERR_FERNET_INVALID' });
}

const check: OptionChecks = optionChecks(
  'Fernet',
  (message) => new CryptoError(message, { code: 'ERR_FERNET_OPTIONS' }),
);

function parseKey(key: unknown, index: number | undefined): FernetKey {
  const label = index === undefined ? 'key' : `keys[${index}]`;
  if (typeof key !== 'string' || !KEY_TEXT.test(key)) {
    throw new CryptoError(
      `Fernet ${label} must be the url-safe base64 (with padding) of 32 bytes, as Fernet.generateKey() returns`,
      {
        code: 'ERR_FERNET_KEY',
      },
    );
  }
  const raw = Buffer.from(key, 'base64url');
  const parsed = {
    signing: nodeCrypto().createSecretKey(raw.subarray(0, 16)),
    encryption: nodeCrypto().createSecretKey(raw.subarray(16, 32)),
  };
  raw.fill(0);
  return parsed;
}

function epochSeconds(now: Date | number | undefined, option: string): number {
  const ms = now === undefined ? Date.now() : now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) check.fail(option, 'a valid Date or epoch milliseconds', now);
  return Math.floor(ms / 1000);
}

/**
 * Fernet symmetric encryption (the fernet/spec format, version 0x80): AES-128-CBC with PKCS#7 padding,
 * authenticated by HMAC-SHA256, in url-safe base64 with padding. Tokens open in Python's
 * `cryptography.fernet` and the other way round. Give several keys to rotate: it encrypts with the first
 * and opens tokens made with any of them.
 *
 * Every failure to open a token (bad base64, version, length, MAC, padding, age) throws one `CryptoError`
 * with code `'ERR_FERNET_INVALID'` and the same message; the MAC is compared in constant time before
 * anything is decrypted.
 *
 * @example
 * ```ts
 * const f = new Fernet([process.env.FERNET_KEY!, process.env.FERNET_OLD_KEY!]);
 * const token = f.encrypt('4111 1111 1111 1111');
 * f.decrypt(token, { ttlSec: 3600 }).toString('utf8'); // '4111 1111 1111 1111'
 * ```
 */
export class Fernet {
  readonly #keys: readonly FernetKey[];

  /**
   * A new Fernet key: the url-safe base64 (with padding) of 32 random bytes.
   * @returns a 44-character key string
   */
  static generateKey(): string {
    return nodeCrypto().randomBytes(32).toString('base64url') + '=';
  }

  /**
   * @param keys - one key, or several (the first encrypts; any of them decrypts); each as returned by
   *   {@link Fernet.generateKey}. Throws `ERR_FERNET_KEY` for a malformed key or an empty list.
   */
  constructor(keys: string | readonly string[]) {
    if (Array.isArray(keys)) {
      if (keys.length === 0)
        throw new CryptoError('Fernet keys must list at least one key', { code: 'ERR_FERNET_KEY' });
      this.#keys = keys.map((k: unknown, i: number) => parseKey(k, i));
    } else {
      this.#keys = [parseKey(keys, undefined)];
    }
  }

  /**
   * Encrypt `data` (a string is taken as UTF-8) with the first key.
   * @param data - the plaintext
   * @param options - `now` and `iv`, for tests and replays
   * @returns the token, url-safe base64 with padding
   */
  encrypt(data: string | Uint8Array, options: FernetEncryptOptions = {}): string {
    let plain: Buffer;
    if (typeof data === 'string') plain = Buffer.from(data, 'utf8');
    else if (data instanceof Uint8Array) plain = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else check.fail('data', 'a string, a Buffer or a Uint8Array', data);
    const seconds = epochSeconds(options.now, 'now');
    if (seconds < 0) check.fail('now', 'a time not before 1970', options.now);
    let iv: Buffer;
    if (options.iv === undefined) iv = freshIv();
    else if (options.iv instanceof Uint8Array && options.iv.byteLength === BLOCK) iv = Buffer.from(options.iv);
    else check.fail('iv', '16 bytes', options.iv);
    return this.#seal(this.#keys[0]!, plain, seconds, iv);
  }

  /**
   * Open a token made with any of the keys.
   * @param token - the token (string, or its ASCII bytes)
   * @param options - `ttlSec` (maximum age) and `now`
   * @returns the plaintext bytes (`.toString('utf8')` for text)
   */
  decrypt(token: string | Uint8Array, options: FernetDecryptOptions = {}): Buffer {
    const { ttlSec } = options;
    if (ttlSec !== undefined) check.number('ttlSec', ttlSec, { min: 0 });
    const now = epochSeconds(options.now, 'now');
    const { bytes, key } = this.#verify(token);
    const timestamp = Number(bytes.readBigUInt64BE(1));
    if (ttlSec !== undefined) {
      if (timestamp + ttlSec < now) throw invalid();
      if (timestamp > now + FERNET_MAX_CLOCK_SKEW_SEC) throw invalid();
    }
    return this.#open(key, bytes);
  }

  /**
   * Re-encrypt a token made with any of the keys under the first key, keeping its timestamp (so a TTL
   * still counts from the original creation) with a fresh IV.
   * @param token - a token made with any of the keys
   * @returns the new token
   */
  rotate(token: string | Uint8Array): string {
    const { bytes, key } = this.#verify(token);
    const plain = this.#open(key, bytes);
    return this.#seal(this.#keys[0]!, plain, Number(bytes.readBigUInt64BE(1)), freshIv());
  }

  /**
   * The creation time recorded in a token, after checking its MAC (the token is not decrypted).
   * @param token - a token made with any of the keys
   * @returns the creation time, whole seconds
   */
  extractTimestamp(token: string | Uint8Array): Date {
    const { bytes } = this.#verify(token);
    return new Date(Number(bytes.readBigUInt64BE(1)) * 1000);
  }

  #seal(key: FernetKey, plain: Buffer, seconds: number, iv: Buffer): string {
    const cipher = nodeCrypto().createCipheriv('aes-128-cbc', key.encryption, iv);
    const first = cipher.update(plain);
    const last = cipher.final();
    const out = Buffer.allocUnsafe(HEADER + first.length + last.length + MAC_LENGTH);
    out[0] = VERSION;
    out.writeBigUInt64BE(BigInt(seconds), 1);
    iv.copy(out, 9);
    first.copy(out, HEADER);
    last.copy(out, HEADER + first.length);
    const macAt = out.length - MAC_LENGTH;
    nodeCrypto().createHmac('sha256', key.signing).update(out.subarray(0, macAt)).digest().copy(out, macAt);
    // Node's base64url omits the padding the spec (and Python) require.
    return out.toString('base64url') + PADDING[out.length % 3]!;
  }

  /** Decode and authenticate a token; every failure is the same error. */
  #verify(token: unknown): { bytes: Buffer; key: FernetKey } {
    let text: string;
    if (typeof token === 'string') text = token;
    else if (token instanceof Uint8Array)
      text = Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('latin1');
    else throw invalid();
    if (text.length % 4 !== 0 || !TOKEN_TEXT.test(text)) throw invalid();
    const bytes = Buffer.from(text, 'base64url');
    if (bytes.length < MIN_TOKEN || bytes[0] !== VERSION || (bytes.length - HEADER - MAC_LENGTH) % BLOCK !== 0)
      throw invalid();
    const macAt = bytes.length - MAC_LENGTH;
    const signed = bytes.subarray(0, macAt);
    const mac = bytes.subarray(macAt);
    for (const key of this.#keys) {
      if (nodeCrypto().timingSafeEqual(nodeCrypto().createHmac('sha256', key.signing).update(signed).digest(), mac))
        return { bytes, key };
    }
    throw invalid();
  }

  /** Decrypt an authenticated token's ciphertext. */
  #open(key: FernetKey, bytes: Buffer): Buffer {
    const decipher = nodeCrypto().createDecipheriv('aes-128-cbc', key.encryption, bytes.subarray(9, HEADER));
    try {
      const first = decipher.update(bytes.subarray(HEADER, bytes.length - MAC_LENGTH));
      const last = decipher.final();
      return last.length === 0 ? first : Buffer.concat([first, last]);
    } catch {
      // Only reachable with a valid MAC, i.e. a token made with our key from a bad plaintext padding.
      throw invalid();
    }
  }
}
