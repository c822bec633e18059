import type * as Http from 'node:http';
import type { Server } from 'node:http';
import { loadNow } from '../../load.js';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../logger.js';
import { PortalError } from '../errors.js';
import type { RequestEntry } from './entry.js';
import type { ResolvedPortalOptions } from './options.js';

/**
 * The portal's node http server: created with the slow-client limits (headers and body timeouts, connections per
 * client address), listening after `listen()`, and closed in the steps a graceful shutdown needs (stop accepting,
 * drain, cut what is left).
 */
export class PortalServer {
  /** The node http server (created at construction, listening after `listen()`). */
  readonly server: Server;
  /** Whether `listen()` succeeded and the server has not closed since. */
  listening = false;
  /** Whether a drain ran out of time and cut connections. */
  drainCut = false;
  private closed: Promise<void> = Promise.resolve();

  constructor(
    options: ResolvedPortalOptions,
    private readonly entry: RequestEntry,
  ) {
    this.server = loadNow<typeof Http>('node:http').createServer(
      {
        keepAliveTimeout: options.keepAliveTimeoutMs,
        // Node measures both from the request's start; the body's budget starts where the headers' ends.
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.headersTimeoutMs + options.bodyTimeoutMs,
        // Node checks these timers on an interval (30 s by default): check often enough to answer close to the limit.
        connectionsCheckingInterval: Math.max(
          100,
          Math.min(1000, Math.floor(Math.min(options.headersTimeoutMs, options.bodyTimeoutMs) / 4)),
        ),
      },
      entry.onRequest,
    );
    this.server.on('clientError', entry.onClientError);
    if (options.maxConnectionsPerIp > 0) this.server.on('connection', entry.connectionCap(options.maxConnectionsPerIp));
  }

  /** The bound port, once listening. */
  get port(): number {
    const addr = this.server.address();
    return addr && typeof addr === 'object' ? (addr as AddressInfo).port : 0;
  }

  /** Listen on `host:port`; rejects with `ERR_LISTEN` when the address cannot be bound. */
  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new PortalError(`run: cannot listen on ${host}:${port}: ${err.message}`, { code: 'ERR_LISTEN', cause: err }),
        );
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
  }

  /** Stop accepting connections; the server finishes closing once the last connection has gone. */
  stopAccepting(): void {
    if (this.listening) this.closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Wait for in-flight requests, closing connections as they go idle; cut them after `timeoutMs`. */
  async drain(timeoutMs: number, log: Logger): Promise<void> {
    if (!this.listening) return;
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    sweep.unref();
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
      timer.unref();
    });
    const late = await Promise.race([this.entry.idle().then(() => false), timedOut]);
    clearInterval(sweep);
    clearTimeout(timer);
    if (late) {
      log.warn({ timeoutMs }, 'close: in-flight requests did not finish in time; cutting connections');
      this.drainCut = true;
      this.server.closeAllConnections();
    }
  }

  /** Cut whatever connection is left and wait until the server has closed. */
  async close(): Promise<void> {
    if (!this.listening) return;
    this.server.closeAllConnections();
    await this.closed;
    this.listening = false;
  }
}
