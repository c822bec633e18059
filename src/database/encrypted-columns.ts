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
 * - with the `bindEncryptedColumns` option, the plaintext above is wrapped: byte 0x00, `p`, a 2-byte length, the
 *   place (`table` NUL `column`, lower case), then the plaintext. Fernet authenticates the whole plaintext, so a
 *   token copied to another table or column (by someone with write access to the file) no longer opens there:
 *   `ERR_DB_DECRYPT`. A token bound to its place is always checked, whatever the option says.
 */
import { Fernet } from '../crypto/index.js';
import { DatabaseError } from './errors.js';
import { columnsOfType, toJson } from './json-columns.js';

const TAG = 0x00;
const JSON_TAG = 0x6a; // 'j'
const BYTES_TAG = 0x62; // 'b'
const BIGINT_TAG = 0x69; // 'i'
const PLACE_TAG = 0x70; // 'p'
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
    { code: 'ERR_DB_DECRYPT', cause, details: { table, column } },
  );
}

/** The place a bound token names: `table` NUL `column`, lower case (SQLite names are case-insensitive). */
function placeOf(table: string, column: string): string {
  return `${table.toLowerCase()}\u0000${column.toLowerCase()}`;
}

function placeError(table: string, column: string, what: string): DatabaseError {
  return new DatabaseError(`Cannot decrypt column "${column}" of table "${table}": ${what}`, {
    code: 'ERR_DB_DECRYPT',
    details: { table, column },
  });
}

/**
 * The per-`Database` codec of encrypted columns: the `encryptionKey` option's Fernet (first key encrypts, any
 * key decrypts) plus the plaintext encoding described in this module's header.
 */
export class ColumnCipher {
  readonly #fernet: Fernet;
  /** Whether new tokens are bound to their table and column, and unbound ones refused (`bindEncryptedColumns`). */
  readonly bind: boolean;

  /**
   * @param keys - the `encryptionKey` option; a malformed key is refused with `ERR_DB_OPTIONS`
   * @param bind - the `bindEncryptedColumns` option
   */
  constructor(keys: unknown, bind = false) {
    this.bind = bind;
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
   * Encrypt a value for an encrypted column (bound to its place with `bindEncryptedColumns`).
   * @param value - the value to store
   * @param column - column name, for the error message and the binding
   * @param table - table name, for the binding
   * @returns the Fernet token, or null for null/undefined
   */
  seal(value: unknown, column: string, table: string): string | null {
    const plain = this.encode(value, column);
    if (plain === null) return null;
    return this.#fernet.encrypt(this.bind ? this.placed(plain, table, column) : plain);
  }

  /** The plaintext of a value (see the module header); null for null/undefined. */
  private encode(value: unknown, column: string): string | Buffer | null {
    switch (typeof value) {
      case 'string':
        if ((value.length > 0 && value.charCodeAt(0) === 0) || LONE_SURROGATE.test(value)) {
          return tagged(JSON_TAG, Buffer.from(JSON.stringify(value), 'utf8'));
        }
        return value;
      case 'number':
        if (!Number.isFinite(value)) {
          throw new DatabaseError(
            `Cannot store ${String(value)} in ENCRYPTED column "${column}": numbers must be finite`,
            { code: 'ERR_DB_VALUE' },
          );
        }
        return tagged(JSON_TAG, Buffer.from(String(value), 'latin1'));
      case 'boolean':
        return tagged(JSON_TAG, Buffer.from(value ? 'true' : 'false', 'latin1'));
      case 'bigint':
        return tagged(BIGINT_TAG, Buffer.from(value.toString(), 'latin1'));
      case 'undefined':
        return null;
      case 'object': {
        if (value === null) return null;
        if (value instanceof Uint8Array)
          return tagged(BYTES_TAG, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        if (value instanceof Date) return value.toISOString();
        return tagged(JSON_TAG, Buffer.from(toJson(value, column) as string, 'utf8'));
      }
      default:
        throw new DatabaseError(`Cannot store a ${typeof value} in ENCRYPTED column "${column}"`, {
          code: 'ERR_DB_VALUE',
        });
    }
  }

  /** The plaintext wrapped with its place (0x00 `p` length place plaintext). */
  private placed(plain: string | Buffer, table: string, column: string): Buffer {
    const place = Buffer.from(placeOf(table, column), 'utf8');
    const inner = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
    const out = Buffer.allocUnsafe(4 + place.length + inner.length);
    out[0] = TAG;
    out[1] = PLACE_TAG;
    out.writeUInt16BE(place.length, 2);
    place.copy(out, 4);
    inner.copy(out, 4 + place.length);
    return out;
  }

  /** The plaintext inside a bound token after checking its place; an unbound one as is, unless binding is on. */
  private unplace(plain: Buffer, table: string, column: string): Buffer {
    if (plain.length < 4 || plain[0] !== TAG || plain[1] !== PLACE_TAG) {
      if (this.bind)
        throw placeError(
          table,
          column,
          'the token is not bound to a table and column (bindEncryptedColumns is on; db.reencrypt(table) binds the tokens written before)',
        );
      return plain;
    }
    const length = plain.readUInt16BE(2);
    const place = plain.subarray(4, 4 + length).toString('utf8');
    if (place !== placeOf(table, column)) {
      const [t = '', c = ''] = place.split('\u0000');
      throw placeError(
        table,
        column,
        `the token was written for column "${c}" of table "${t}" (it was moved there by a write outside this layer)`,
      );
    }
    return plain.subarray(4 + length);
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
    plain = this.unplace(plain, table, column);
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
   * Re-encrypt a stored token under the first key (same plaintext and timestamp, fresh IV); with
   * `bindEncryptedColumns`, a token written before the option is bound to its place.
   * @param stored - the column's value as SQLite returned it (not null)
   * @param table - table name, for the error message
   * @param column - column name, for the error message
   * @param row - which row, for the error message (e.g. `rowid 5`)
   * @returns the new token
   */
  rotate(stored: unknown, table: string, column: string, row: string): string {
    let plain: Buffer;
    let made: Date;
    try {
      plain = this.#fernet.decrypt(stored as string);
      made = this.#fernet.extractTimestamp(stored as string);
    } catch (err) {
      throw decryptError(table, column, ` (${row})`, err);
    }
    const bound = plain.length >= 4 && plain[0] === TAG && plain[1] === PLACE_TAG;
    if (!bound && !this.bind) return this.#fernet.rotate(stored as string);
    // Binding on: an unbound token is bound here (the one way to bind rows written before the option).
    let inner: Buffer;
    try {
      inner = bound ? this.unplace(plain, table, column) : plain;
    } catch (err) {
      throw new DatabaseError(`${(err as Error).message} (${row})`, { code: 'ERR_DB_DECRYPT', cause: err });
    }
    const next = this.bind ? this.placed(inner, table, column) : plain;
    return this.#fernet.encrypt(next, { now: made });
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
