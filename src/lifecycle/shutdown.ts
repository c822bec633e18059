import type { Logger } from '../logger.js';

/** What a graceful shutdown drives (the portal). */
export interface ShutdownTarget {
  /** Make readiness drop (load balancers stop sending traffic). */
  decommission(): Promise<void>;
  /** Stop accepting, drain in-flight work within `timeoutMs`, release everything; resolves to whether the drain was clean. */
  drainAndClose(timeoutMs: number): Promise<boolean>;
}

/** Options for {@link installShutdownHandlers}. */
export interface ShutdownOptions {
  /** Signals that start a graceful shutdown. @defaultValue ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /**
   * How long to keep serving after readiness drops, so load balancers notice, in ms.
   * @defaultValue 5000 when `KUBERNETES_SERVICE_HOST` is set (running in a Kubernetes pod), else 0
   */
  drainDelayMs?: number;
  /** How long in-flight requests may take to finish, in ms. @defaultValue 10000 */
  shutdownTimeoutMs?: number;
  /** Called with the exit code when done (or forced). @defaultValue process.exit */
  exit?: (code: number) => void;
  /** Logger. */
  log: Logger;
}

const SIGNAL_NUMBERS: Readonly<Partial<Record<NodeJS.Signals, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

/** Drain delay used in Kubernetes (`KUBERNETES_SERVICE_HOST` set): endpoints and proxies take seconds to drop a pod. */
export const KUBERNETES_DRAIN_DELAY_MS = 5000;

/**
 * The default `drainDelayMs`: 5000 inside Kubernetes (the kubelet sets `KUBERNETES_SERVICE_HOST` in every pod),
 * where endpoint removal reaches kube-proxy and ingress controllers only after the pod got SIGTERM; 0 elsewhere.
 */
export function defaultDrainDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  return env.KUBERNETES_SERVICE_HOST ? KUBERNETES_DRAIN_DELAY_MS : 0;
}

/** Check a shutdown timing option; returns the value or throws a RangeError naming the option. */
export function checkShutdownMs(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 3_600_000)
    throw new RangeError(`${option} must be an integer from 0 to 3600000 ms, got ${String(value)}`);
  return value;
}

/**
 * Install signal handlers that shut a target down gracefully: decommission, wait `drainDelayMs`, drain and close,
 * then exit 0 on a clean drain (1 otherwise). A second signal while draining forces exit (128 + signal number).
 * Returns a function that removes the handlers.
 */
export function installShutdownHandlers(target: ShutdownTarget, options: ShutdownOptions): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const drainDelayMs = checkShutdownMs(options.drainDelayMs, 'drainDelayMs', defaultDrainDelayMs());
  const timeoutMs = checkShutdownMs(options.shutdownTimeoutMs, 'shutdownTimeoutMs', 10_000);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log;
  let shuttingDown = false;
  let removed = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      log.warn({ signal }, `second ${signal} during shutdown: forcing exit`);
      remove();
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    shuttingDown = true;
    log.info({ signal, drainDelayMs, timeoutMs }, `${signal} received: decommissioning, then draining`);
    void (async () => {
      let code = 0;
      try {
        await target.decommission();
        if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
        const clean = await target.drainAndClose(timeoutMs);
        code = clean ? 0 : 1;
        log.info({ clean }, clean ? 'shutdown complete' : 'shutdown complete, but some requests were cut');
      } catch (err) {
        code = 1;
        log.error({ err }, 'shutdown failed');
      }
      remove();
      exit(code);
    })();
  };

  const remove = (): void => {
    if (removed) return;
    removed = true;
    for (const s of signals) process.off(s, onSignal);
  };
  // Keep a reference until the second signal: the handlers stay installed while draining.
  for (const s of signals) process.on(s, onSignal);
  return remove;
}
