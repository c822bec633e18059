import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { LifecycleError } from '../errors.js';
import { isLifecycleState, MAX_MESSAGE_LENGTH, MAX_RETRY_AFTER_SEC, type LifecycleState } from '../states.js';
import { PX_STATUSES, type PxStatus } from './frames.js';
import type { FailMode } from './options.js';
import { nodeCrypto } from '../../load.js';

/** The last state heard from the control plane: what a restart during an outage starts from. */
export interface KnownState {
  /** The PXControl status. */
  status: PxStatus;
  /** The gatehouse state, when a gatehouse control plane sent one (wins over `status`). */
  gatehouseStatus: LifecycleState | undefined;
  /** The project's fail mode. */
  failMode: FailMode;
  pauseMessage: string | undefined;
  offlineMessage: string | undefined;
  maintenanceMessage: string | undefined;
  retryAfterSec: number | undefined;
  /** When it was last heard (epoch ms). */
  heardAt: number;
}

/** File name of the persisted state for a token: `pxcontrol-<first 16 hex of sha256(token)>.json`. */
export function stateFileName(token: string): string {
  return `pxcontrol-${nodeCrypto().createHash('sha256').update(token).digest('hex').slice(0, 16)}.json`;
}

function optText(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= MAX_MESSAGE_LENGTH ? v : undefined;
}

/**
 * The last known state of one token, kept as a small JSON file in `dataDir` (written atomically after every
 * change, never on the request path). Reading a missing or damaged file gives `undefined`: nothing known.
 */
export class StateFile {
  private readonly path: string;
  private writing: Promise<void> = Promise.resolve();
  private pending: KnownState | undefined;

  constructor(
    dataDir: string,
    token: string,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, stateFileName(token));
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      throw new LifecycleError(`remote.dataDir: cannot create ${dataDir}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
        cause: err,
      });
    }
  }

  /** The file's location (it holds no token). */
  get location(): string {
    return this.path;
  }

  /** The stored state, or `undefined` when none (or a damaged one) is stored. Read once, at start. */
  load(): KnownState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.warn(
          { path: this.path, reason: (err as Error).message },
          'remote control: cannot read the persisted state',
        );
      return undefined;
    }
    try {
      const v = JSON.parse(text) as Record<string, unknown>;
      if (!(PX_STATUSES as readonly unknown[]).includes(v.status)) throw new Error('no valid status');
      if (v.failMode !== 'open' && v.failMode !== 'closed') throw new Error('no valid failMode');
      const retry = v.retryAfterSec;
      return {
        status: v.status as PxStatus,
        gatehouseStatus: isLifecycleState(v.gatehouseStatus) ? v.gatehouseStatus : undefined,
        failMode: v.failMode,
        pauseMessage: optText(v.pauseMessage),
        offlineMessage: optText(v.offlineMessage),
        maintenanceMessage: optText(v.maintenanceMessage),
        retryAfterSec:
          typeof retry === 'number' && Number.isInteger(retry) && retry >= 0 && retry <= MAX_RETRY_AFTER_SEC
            ? retry
            : undefined,
        heardAt: typeof v.heardAt === 'number' ? v.heardAt : 0,
      };
    } catch (err) {
      this.log.warn(
        { path: this.path, reason: (err as Error).message },
        'remote control: the persisted state is damaged; starting with nothing known',
      );
      return undefined;
    }
  }

  /** Store a state (coalesced: while one write runs, only the newest waiting state is written next). */
  save(state: KnownState): void {
    const idle = this.pending === undefined;
    this.pending = state;
    if (!idle) return;
    this.writing = this.writing.then(async () => {
      const next = this.pending;
      this.pending = undefined;
      if (!next) return;
      const tmp = `${this.path}.${process.pid}.tmp`;
      try {
        await mkdir(join(this.path, '..'), { recursive: true });
        await writeFile(tmp, `${JSON.stringify(next)}\n`);
        await rename(tmp, this.path);
      } catch (err) {
        this.log.warn({ path: this.path, reason: (err as Error).message }, 'remote control: cannot persist the state');
      }
    });
  }

  /** Resolves once every write asked for so far has landed. */
  flush(): Promise<void> {
    return this.writing;
  }
}
