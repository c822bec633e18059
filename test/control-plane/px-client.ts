import { WebSocket } from 'ws';

/** A status/revoked/error frame as the test client sees it. */
export type Frame = Record<string, unknown> & { type: string };

/**
 * A PXControl protocol client written for the tests, from ../shared/PXCONTROL.md alone: it connects to
 * `/ws/{token}`, keeps every frame, and sends heartbeats on request.
 */
export class PxClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ test: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // The protocol speaks JSON text frames; a binary frame is a protocol error the test must see.
      const frame = (isBinary ? { type: 'BINARY FRAME' } : JSON.parse(data.toString())) as Frame;
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.test(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Open a socket (resolves once open, or once closed when the server refuses the token right away). */
  static connect(base: string, token: string, userAgent = 'pxcontrol-sdk-node/0.1.3'): Promise<PxClient> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/${token}`, { headers: { 'User-Agent': userAgent } });
    const client = new PxClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** The next frame (already received or yet to come) matching `test`, or a rejection after `timeoutMs`. */
  next(test: (f: Frame) => boolean, timeoutMs = 2000): Promise<Frame> {
    const had = this.frames.find(test);
    if (had) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)),
        timeoutMs,
      );
      this.waiters.push({
        test,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Wait for a status frame with this `status` (after those already seen when `fresh`). */
  status(status: string, options: { fresh?: boolean; timeoutMs?: number } = {}): Promise<Frame> {
    const seen = options.fresh ? new Set(this.frames) : new Set<Frame>();
    return this.next((f) => f.type === 'status' && f.status === status && !seen.has(f), options.timeoutMs);
  }

  heartbeat(fields: Record<string, unknown> = {}): void {
    this.ws.send(
      JSON.stringify({
        type: 'heartbeat',
        sdk_version: '0.1.3',
        language: 'node',
        env: 'production',
        timestamp: Date.now(),
        ...fields,
      }),
    );
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}
