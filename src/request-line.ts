// The request log line encoded byte by byte into a batch buffer (logger.ts `requestLineWriter`): the same bytes as
// its template string, without building the string and copying it through a UTF-8 encoder. Only for lines whose
// text is printable ASCII with nothing to escape (nearly all); the writer keeps the template for the others.

/** Printable ASCII without the double quote and the backslash: a string made only of these is its own JSON body. */
export const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Returned by {@link encodeRequestHead} and {@link encodeRequestTail} for a line it cannot write as the template would. */
export const DECLINED = -1;

const bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const PATH = bytes('","path":"');
const STATUS = bytes('","status":');
const DURATION = bytes(',"durationMs":');
const REQUEST_ID = bytes(',"requestId":"');
const IDENTITY = bytes('","identity":');
const TRACE = bytes(',"trace_id":"');
const SPAN = bytes('","span_id":"');
const END = bytes(',"msg":"request"}\n');
const NULL = bytes('null');

/**
 * The most bytes a line takes beyond its prefix and its strings (method, path, request id, identity, trace ids):
 * the keys (about 130), a status of 3 digits and a duration of at most 15 characters.
 */
const LINE_OVERHEAD = 160;

/** The room to reserve for a line: its prefix, its strings (one byte each when it encodes) and the rest. */
export function requestLineBytes(
  prefixLength: number,
  method: string,
  path: string,
  requestId: string,
  identity: string | null,
  traceId: string | undefined,
  spanId: string | undefined,
): number {
  return (
    prefixLength +
    LINE_OVERHEAD +
    method.length +
    path.length +
    requestId.length +
    (identity?.length ?? 0) +
    (traceId?.length ?? 0) +
    (spanId?.length ?? 0)
  );
}

function put(buf: Uint8Array, p: number, piece: Uint8Array): number {
  for (let i = 0; i < piece.length; i++) buf[p++] = piece[i]!;
  return p;
}

/** A string of ASCII characters (known to be plain), one byte each. */
function ascii(buf: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** A string that is its own JSON body ({@link PLAIN}), one byte each; {@link DECLINED} at the first character that is not. */
function plain(buf: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return DECLINED;
    buf[p++] = c;
  }
  return p;
}

/** A non-negative integer's decimal digits. */
function integer(buf: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    buf[p] = 48 + n;
    return p + 1;
  }
  let digits = 0;
  for (let m = n; m >= 1; m = Math.floor(m / 10)) digits++;
  let at = p + digits;
  for (let m = n; m >= 1; m = Math.floor(m / 10)) buf[--at] = 48 + (m % 10);
  return p + digits;
}

/**
 * A duration rounded to hundredths (`Math.round(x * 100) / 100`, as the responder makes it) written the way
 * `String(x)` writes it: `0.05`, `1.2`, `3`.
 */
function hundredths(buf: Uint8Array, p: number, x: number): number {
  const n = Math.round(x * 100);
  const whole = Math.floor(n / 100);
  const frac = n - whole * 100;
  p = integer(buf, p, whole);
  if (frac === 0) return p;
  buf[p++] = 46; // '.'
  if (frac < 10) {
    buf[p++] = 48;
    buf[p++] = 48 + frac;
  } else if (frac % 10 === 0) buf[p++] = 48 + frac / 10;
  else {
    buf[p++] = 48 + Math.floor(frac / 10);
    buf[p++] = 48 + (frac % 10);
  }
  return p;
}

/**
 * Whether {@link encodeRequestHead} can write a line with these numbers exactly as the template would: a status of
 * at most 3 digits and a duration rounded to hundredths below 10^12 (which `String()` writes without an exponent).
 * The strings are checked while they are copied.
 */
export function encodable(method: string | undefined, status: number, durationMs: number): method is string {
  return (
    method !== undefined &&
    Number.isInteger(status) &&
    status >= 0 &&
    status < 1000 &&
    durationMs >= 0 &&
    durationMs < 1e12 &&
    Math.round(durationMs * 100) / 100 === durationMs
  );
}

/**
 * Encode the head of a request line from `p`: `prefix` (`{"level":30,"time":"…"<bindings>,"method":"`), the
 * method, path, status and duration; returns where it ends, or {@link DECLINED} when the path has a character to
 * escape or outside printable ASCII (the bytes written then are garbage past the caller's committed end). The
 * caller checked {@link encodable} and reserved {@link requestLineBytes} for the whole line. `method` must be
 * printable ASCII without quotes or backslashes (node's parser sees to it).
 */
export function encodeRequestHead(
  buf: Uint8Array,
  p: number,
  prefix: Uint8Array,
  method: string,
  path: string,
  status: number,
  durationMs: number,
): number {
  buf.set(prefix, p);
  p = ascii(buf, p + prefix.length, method);
  p = put(buf, p, PATH);
  p = plain(buf, p, path);
  if (p === DECLINED) return DECLINED;
  p = put(buf, p, STATUS);
  p = integer(buf, p, status);
  p = put(buf, p, DURATION);
  return hundredths(buf, p, durationMs);
}

/**
 * Encode the rest of the line after {@link encodeRequestHead}: request id, identity, trace ids and the message;
 * {@link DECLINED} when the identity has a character to escape or outside printable ASCII. `requestId` and the
 * trace ids must be printable ASCII without quotes or backslashes (the request id rule and the hex ids see to it).
 */
export function encodeRequestTail(
  buf: Uint8Array,
  p: number,
  requestId: string,
  identity: string | null,
  traceId: string | undefined,
  spanId: string | undefined,
): number {
  p = put(buf, p, REQUEST_ID);
  p = ascii(buf, p, requestId);
  p = put(buf, p, IDENTITY);
  if (identity === null) p = put(buf, p, NULL);
  else {
    buf[p++] = 34; // '"'
    p = plain(buf, p, identity);
    if (p === DECLINED) return DECLINED;
    buf[p++] = 34;
  }
  if (traceId !== undefined) {
    p = put(buf, p, TRACE);
    p = ascii(buf, p, traceId);
    p = put(buf, p, SPAN);
    p = ascii(buf, p, spanId ?? '');
    buf[p++] = 34;
  }
  return put(buf, p, END);
}
