/**
 * `ENCRYPTED` columns: values stored as Fernet tokens (TEXT) and returned decrypted. What is inside a token:
 *
 * - a string is its plain UTF-8 bytes (what `Fernet(key).encrypt(text.encode())` makes in Python, so tokens
 *   of text interoperate both ways);
 * - every other value is a tagged plaintext: byte 0x00, a tag byte, then the payload. `j` + JSON text
 *   (numbers, booleans, objects, arrays, and the rare string that starts with U+0000 or holds a lone
 *   surrogate), `b` + raw bytes (a `Buffer`/`Uint8Array`, read back as a `Buffer`), `i` + decimal digits
 *   (a `bigint`). UTF-8 text never starts with 0x00 unless the string starts with U+0000, which takes the
 *   tagged form, so the two forms cannot be confused.
 * - `null`/`undefined` are stored as SQL NULL (not encrypted); a `Date` is stored as its ISO string, as in
 *   plain columns.
 */
import { Fernet } from '../crypto/index.js';
import { DatabaseError } from './errors.js';
import { columnsOfType, toJson } from './json-columns.js';

const TAG = 0x00;
const JSON_TAG = 0x6a; // 'j'
const BYTES_TAG = 0x62; // 'b'
const BIGINT_TAG = 0x69; // 'i'
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Find the columns declared with type `ENCRYPTED` in a column-definition list.
 * @param defs - the declaration given in `tables`
 * @returns names of the encrypted columns
 */
export function encryptedColumnsOf(defs: string): Set<string> {
  return columnsOfType(defs, 'ENCRYPTED');
}

/**
 * Whether a declared type (from `PRAGMA table_info`) marks an encrypted column.
 * @param type - the declared type text
 * @returns true for `ENCRYPTED` (any case)
 */
export function isEncryptedType(type: string): boolean {
  return type.trim().toUpperCase() === 'ENCRYPTED';
}

function tagged(tag: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 2);
  out[0] = TAG;
  out[1] = tag;
  payload.copy(out, 2);
  return out;
}

/** What a failed open says: which column, never the token or the key. */
function decryptError(table: string, column: string, where: string, cause: unknown): DatabaseError {
  return new DatabaseError(
    `Cannot decrypt column "${column}" of table "${table}"${where}: the stored token does not open with any encryptionKey (wrong key, or the stored value was altered)`,
    { code: 'ERR_DB_DECRYPT', cause },
  );
}

/**
 * The per-`Database` codec of encrypted columns: the `encryptionKey` option's Fernet (first key encrypts, any
 * key decrypts) plus the plaintext encoding described in this module's header.
 */
export class ColumnCipher {
  readonly #fernet: Fernet;

  /** @param keys - the `encryptionKey` option; a malformed key is refused with `ERR_DB_OPTIONS` */
  constructor(keys: unknown) {
    try {
      this.#fernet = new Fernet(keys as string | readonly string[]);
    } catch (err) {
      throw new DatabaseError(
        'Option "encryptionKey" must be a Fernet key (as Fernet.generateKey() returns) or a non-empty list of them',
        {
          code: 'ERR_DB_OPTIONS',
          cause: err,
        },
      );
    }
  }

  /**
   * Encrypt a value for an encrypted column.
   * @param value - the value to store
   * @param column - column name, for the error message
   * @returns the Fernet token, or null for null/undefined
   */
  seal(value: unknown, column: string): string | null {
    switch (typeof value) {
      case 'string':
        if ((value.length > 0 && value.charCodeAt(0) === 0) || LONE_SURROGATE.test(value)) {
          return this.#fernet.encrypt(tagged(JSON_TAG, Buffer.from(JSON.stringify(value), 'utf8')));
        }
        return this.#fernet.encrypt(value);
      case 'number':
        if (!Number.isFinite(value)) {
          throw new DatabaseError(
            `Cannot store ${String(value)} in ENCRYPTED column "${column}": numbers must be finite`,
            { code: 'ERR_DB_VALUE' },
          );
        }
        return this.#fernet.encrypt(tagged(JSON_TAG, Buffer.from(String(value), 'latin1')));
      case 'boolean':
        return this.#fernet.encrypt(tagged(JSON_TAG, Buffer.from(value ? 'true' : 'false', 'latin1')));
      case 'bigint':
        return this.#fernet.encrypt(tagged(BIGINT_TAG, Buffer.from(value.toString(), 'latin1')));
      case 'undefined':
        return null;
      case 'object': {
        if (value === null) return null;
        if (value instanceof Uint8Array)
          return this.#fernet.encrypt(tagged(BYTES_TAG, Buffer.from(value.buffer, value.byteOffset, value.byteLength)));
        if (value instanceof Date) return this.#fernet.encrypt(value.toISOString());
        return this.#fernet.encrypt(tagged(JSON_TAG, Buffer.from(toJson(value, column) as string, 'utf8')));
      }
      default:
        throw new DatabaseError(`Cannot store a ${typeof value} in ENCRYPTED column "${column}"`, {
          code: 'ERR_DB_VALUE',
        });
    }
  }

  /**
   * Decrypt a stored value back into what was written.
   * @param stored - the column's value as SQLite returned it
   * @param table - table name, for the error message
   * @param column - column (or alias) name, for the error message
   * @returns the value, or null for SQL NULL
   */
  open(stored: unknown, table: string, column: string): unknown {
    if (stored === null || stored === undefined) return null;
    let plain: Buffer;
    try {
      plain = this.#fernet.decrypt(stored as string);
    } catch (err) {
      throw decryptError(table, column, '', err);
    }
    try {
      if (plain.length === 0 || plain[0] !== TAG) return utf8.decode(plain);
      const payload = plain.subarray(2);
      switch (plain[1]) {
        case JSON_TAG:
          return JSON.parse(utf8.decode(payload)) as unknown;
        case BYTES_TAG:
          return payload;
        case BIGINT_TAG:
          return BigInt(payload.toString('latin1'));
        default:
          break;
      }
    } catch (err) {
      throw formatError(table, column, err);
    }
    throw formatError(table, column, undefined);
  }

  /**
   * Re-encrypt a stored token under the first key (same plaintext and timestamp, fresh IV).
   * @param stored - the column's value as SQLite returned it (not null)
   * @param table - table name, for the error message
   * @param column - column name, for the error message
   * @param row - which row, for the error message (e.g. `rowid 5`)
   * @returns the new token
   */
  rotate(stored: unknown, table: string, column: string, row: string): string {
    try {
      return this.#fernet.rotate(stored as string);
    } catch (err) {
      throw decryptError(table, column, ` (${row})`, err);
    }
  }
}

function formatError(table: string, column: string, cause: unknown): DatabaseError {
  return new DatabaseError(
    `Column "${column}" of table "${table}" holds a token whose plaintext is not a value this layer writes (see ENCRYPTED columns in the README)`,
    {
      code: 'ERR_DB_DECRYPT',
      cause,
    },
  );
}
