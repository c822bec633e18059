import type * as Http from 'node:http';
import { loadNow } from '../load.js';

let codes: Record<number, string | undefined> | undefined;

/**
 * The reason phrase of an HTTP status (`404` → `'Not Found'`), or undefined for an unknown one. node:http is taken
 * through `require` on first use: its ES module facade reads every export, which loads Node's bundled undici and
 * costs a cold `import` about 35 ms.
 */
export function statusText(status: number): string | undefined {
  codes ??= loadNow<typeof Http>('node:http').STATUS_CODES;
  return codes[status];
}
