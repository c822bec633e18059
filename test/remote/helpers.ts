import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { RemoteControl, type RemoteControlOptions } from '../../src/lifecycle/index.js';
import { tempDir } from '../helpers.js';
import { PxServer } from './px-server.js';

/** A fresh project token. */
export function newToken(): string {
  return `px_${randomBytes(12).toString('hex')}`;
}

/** Poll `check` every 5 ms until it returns true; throws with `what` after `ms`. */
export async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A debug-level logger whose lines are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug', base: null }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

/** Short intervals for tests; the version check is off unless a test turns it on. */
export const FAST: RemoteControlOptions = {
  heartbeatIntervalMs: 1000,
  reconnectDelayMs: 20,
  maxReconnectDelayMs: 60,
  pollIntervalMs: 40,
  pollFallbackAfterFailures: 3,
  disableVersionCheck: true,
  connectTimeoutMs: 2000,
};

/** Everything one test opens, closed in afterEach. */
export class Fixture {
  readonly server = new PxServer();
  readonly token = newToken();
  private readonly controls: RemoteControl[] = [];
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  readonly dir: string;

  constructor() {
    const t = tempDir('gatehouse-remote-');
    this.dir = t.dir;
    this.cleanups.push(t.cleanup);
  }

  async start(
    status: Record<string, unknown> & { status: string } = { status: 'ACTIVE', fail_mode: 'closed' },
  ): Promise<this> {
    this.server.addProject(this.token, status);
    await this.server.listen();
    return this;
  }

  /** A RemoteControl on this server with FAST intervals, closed at the end of the test. */
  control(options: RemoteControlOptions = {}): RemoteControl {
    const c = new RemoteControl({
      token: this.token,
      wsUrl: this.server.wsUrl,
      dataDir: this.dir,
      env: {},
      ...FAST,
      ...options,
    });
    this.controls.push(c);
    return c;
  }

  onCleanup(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    for (const c of this.controls) await c.close();
    await this.server.close();
    for (const fn of this.cleanups.reverse()) await fn();
  }
}
