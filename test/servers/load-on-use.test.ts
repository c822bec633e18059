import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { packagesOf, runRecorded } from '../load-on-use-helpers.js';

interface Loads {
  result: { hi: number; body: unknown; missing: number; legacy: number };
  packages: string[];
}

/** Run the lean portal fixture in a fresh process that records every package it resolves. */
async function runLean(dir: string, mode: 'plain' | 'app'): Promise<Loads> {
  const run = await runRecorded(['test/servers/fixtures/lean-portal.ts', dir, mode], {
    env: { GATEHOUSE_LOG_FORMAT: 'json', GATEHOUSE_LOG_LEVEL: 'silent' },
  });
  if (run.code !== 0) throw new Error(`fixture failed (${String(run.code)}): ${run.stderr}`);
  return { result: JSON.parse(run.stdout) as Loads['result'], packages: packagesOf(run.modules) };
}

/** Packages a portal without redis, websocket, threads, pretty logs or inject must never load. */
const NEVER = [
  'socket.io',
  'engine.io',
  '@socket.io/redis-adapter',
  'light-my-request',
  'pino-pretty',
  'bullmq',
  'piscina',
];

describe('ServicePortal load on use', () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => cleanup?.());

  it('serves an endpoint and answers 404 without loading express, Socket.IO, pino-pretty or light-my-request', async () => {
    const t = tempDir('gh-lean-');
    cleanup = t.cleanup;
    const { result, packages } = await runLean(t.dir, 'plain');
    expect(result).toEqual({ hi: 200, body: { ok: true }, missing: 404, legacy: 0 });
    for (const name of [...NEVER, 'express']) expect(packages, name).not.toContain(name);
    // The request path's own dependencies did load: the check above is not vacuous.
    for (const name of ['find-my-way', 'pino', 'jose']) expect(packages, name).toContain(name);
  }, 60_000);

  it('loads express the first time portal.app is used, and serves its routes', async () => {
    const t = tempDir('gh-lean-');
    cleanup = t.cleanup;
    const { result, packages } = await runLean(t.dir, 'app');
    expect(result).toEqual({ hi: 200, body: { ok: true }, missing: 404, legacy: 200 });
    expect(packages).toContain('express');
    for (const name of NEVER) expect(packages, name).not.toContain(name);
  }, 60_000);
});
