import { nodeCrypto } from '../load.js';

// Process-wide on purpose: one random prefix per process, then a counter.
let prefix = '';
let next = 0;
const COUNTER_END = 2 ** 48;

function reseed(): void {
  const hex = nodeCrypto().randomBytes(10).toString('hex');
  // 8-4-4-4 hex digits: version 8 ("custom", RFC 9562) and the RFC variant bits in their places.
  const variant = ((Number.parseInt(hex[15]!, 16) & 0x3) | 0x8).toString(16);
  prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-`;
  next = 0;
}

/**
 * A new request id, shaped as a UUID (RFC 9562 version 8): 74 random bits drawn once per process, then a 48-bit
 * counter, so an id costs a counter step and a string join instead of random bytes. Unique across a fleet with
 * the odds of random UUIDs; not secret (nothing should be, in a header echoed to the client).
 */
export function newRequestId(): string {
  if (prefix === '' || next >= COUNTER_END) reseed();
  return prefix + (next++).toString(16).padStart(12, '0');
}
