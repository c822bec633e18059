/**
 * Request/response hooks. `Interceptors` (contract) is the global set run by `sendRequest` and, unless
 * `globalHooks: false`, by every client; each client also has its own `client.interceptors`.
 */
import type { RequestHook, ResponseHook } from './types.js';

/** An ordered set of request and response hooks. */
export class InterceptorChain {
  /** Request hooks in registration order (read-only view; use the methods to change it). */
  request: readonly RequestHook[] = [];
  /** Response hooks in registration order (read-only view; use the methods to change it). */
  response: readonly ResponseHook[] = [];

  /**
   * Run `hook` on every outgoing request (after defaults, auth and body encoding, before the first attempt).
   * A hook that throws makes the call resolve with `BAD_REQUEST`.
   *
   * @param hook - returns a changed request, or nothing to keep it
   * @returns a function that removes the hook
   */
  addRequestHook(hook: RequestHook): () => void {
    this.request = [...this.request, hook];
    return () => {
      this.removeRequestHook(hook);
    };
  }

  /**
   * Run `hook` on every final result (success or failure). A hook that throws makes the call resolve
   * with `INVALID_RESPONSE`.
   *
   * @param hook - returns a changed result, or nothing to keep it
   * @returns a function that removes the hook
   */
  addResponseHook(hook: ResponseHook): () => void {
    this.response = [...this.response, hook];
    return () => {
      this.removeResponseHook(hook);
    };
  }

  /**
   * Remove a request hook.
   *
   * @param hook - the function passed to `addRequestHook`
   * @returns whether it was registered
   */
  removeRequestHook(hook: RequestHook): boolean {
    const next = this.request.filter((h) => h !== hook);
    const removed = next.length !== this.request.length;
    this.request = next;
    return removed;
  }

  /**
   * Remove a response hook.
   *
   * @param hook - the function passed to `addResponseHook`
   * @returns whether it was registered
   */
  removeResponseHook(hook: ResponseHook): boolean {
    const next = this.response.filter((h) => h !== hook);
    const removed = next.length !== this.response.length;
    this.response = next;
    return removed;
  }

  /** Remove every hook. */
  clear(): void {
    this.request = [];
    this.response = [];
  }
}

/**
 * The global hooks (contract), process-wide on purpose (API.md 7): they run on `sendRequest` and on every client
 * made without `globalHooks: false`; a client's own hooks are `client.interceptors`.
 *
 * @example
 * ```ts
 * const remove = Interceptors.addRequestHook((req) => { req.headers['x-client-id'] = 'notes'; });
 * remove();
 * ```
 */
export const Interceptors: InterceptorChain = new InterceptorChain();
