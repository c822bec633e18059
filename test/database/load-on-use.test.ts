import { describe, expect, it } from 'vitest';
import { runStages } from './fixtures/run-stages.js';

describe('gatehouse/db load on use', () => {
  it('loads better-sqlite3 when the first connection opens, not at import', async () => {
    const { stages, result } = await runStages('db');
    expect(stages.imported).not.toContain('better-sqlite3');
    expect(stages.imported).not.toContain('zod');
    expect(stages.used).toContain('better-sqlite3');
    expect(result).toEqual([{ id: 1, tag: 'a' }]);
  }, 60_000);
});

describe('gatehouse/crypto load on use', () => {
  it('loads no package at all, at import or in use (node:crypto only)', async () => {
    const { stages, result } = await runStages('crypto');
    // tsx (and its esbuild) run the TypeScript sources of this test; nothing else may appear.
    const runner = new Set(['tsx', 'esbuild']);
    expect(stages.imported?.filter((p) => !runner.has(p))).toEqual([]);
    expect(stages.used?.filter((p) => !runner.has(p))).toEqual([]);
    expect(result).toBe('x');
  }, 60_000);
});
