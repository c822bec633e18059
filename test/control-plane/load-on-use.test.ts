import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packagesOf, runRecorded } from '../load-on-use-helpers.js';

/** Packages an import of the lifecycle or the control plane must not load (they load when used). */
const HEAVY = ['ws', 'ioredis', 'zod', 'express', 'socket.io', 'bullmq', 'piscina', 'light-my-request', 'helmet'];
/** The control plane's own running parts. */
const ENGINE = ['engine', 'sockets', 'store-sqlite', 'store-redis', 'admin', 'routes', 'dashboard', 'protocol'];

/** Run `code` (an ES module body) in a fresh Node with tsx; the modules it resolved. */
async function loadedBy(code: string): Promise<string[]> {
  const run = await runRecorded(['--input-type=module', '-e', code], {
    env: { GATEHOUSE_LOG_LEVEL: 'silent' },
    timeoutMs: 60_000,
  });
  if (run.code !== 0) throw new Error(`child failed (${String(run.code)}): ${run.stderr}`);
  return run.modules;
}

const packages = (urls: string[]): Set<string> => new Set(packagesOf(urls));
const controlPlaneFiles = (urls: string[]): string[] =>
  urls.flatMap((u) => /\/src\/control-plane\/([\w-]+)\.ts$/.exec(u)?.[1] ?? []);

describe('load on use (lifecycle and control plane)', () => {
  it('importing gatehouse/lifecycle loads neither ws, ioredis, zod nor the PXControl client', async () => {
    const urls = await loadedBy("await import('./src/lifecycle/index.ts');");
    const loaded = packages(urls);
    for (const pkg of HEAVY) expect(loaded.has(pkg), pkg).toBe(false);
    expect(urls.some((u) => u.endsWith('/src/lifecycle/remote/client.ts'))).toBe(false);
  });

  it('a RemoteControl loads the protocol client and ws when it connects', async () => {
    const urls = await loadedBy(`
      const { RemoteControl } = await import('./src/lifecycle/index.ts');
      const px = new RemoteControl({ token: 'px_test', wsUrl: 'ws://127.0.0.1:9', env: {}, dataDir: false, disableVersionCheck: true });
      await new Promise((r) => setTimeout(r, 200));
      await px.close();
    `);
    expect(urls.some((u) => u.endsWith('/src/lifecycle/remote/client.ts'))).toBe(true);
    expect(packages(urls).has('ws')).toBe(true);
  });

  it('importing gatehouse/control-plane loads only the light ControlPlane class, and constructing one loads the rest', async () => {
    const idle = await loadedBy("await import('./src/control-plane/index.ts');");
    const loaded = packages(idle);
    for (const pkg of HEAVY) expect(loaded.has(pkg), pkg).toBe(false);
    expect(idle.some((u) => u.includes('/src/servers/'))).toBe(false);
    expect(controlPlaneFiles(idle).filter((f) => ENGINE.includes(f))).toEqual([]);

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-load-'));
    try {
      const used = await loadedBy(`
        const { ControlPlane } = await import('./src/control-plane/index.ts');
        const cp = new ControlPlane({ dataDir: ${JSON.stringify(dir)}, adminToken: 'admin-token-for-tests-0123456789' });
        await cp.createProject({ name: 'notes' });
        await cp.close();
      `);
      expect(controlPlaneFiles(used)).toEqual(
        expect.arrayContaining(['engine', 'sockets', 'store-sqlite', 'dashboard']),
      );
      expect(packages(used).has('ws')).toBe(true);
      expect(controlPlaneFiles(used)).not.toContain('store-redis');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
