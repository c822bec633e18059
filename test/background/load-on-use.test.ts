import { describe, expect, it } from 'vitest';
import { runStages } from '../database/fixtures/run-stages.js';

describe('gatehouse/background load on use', () => {
  it('loads piscina only when a thread Executor is created', async () => {
    const { stages, result } = await runStages('background');
    expect(stages.imported).not.toContain('piscina');
    expect(stages.imported).not.toContain('zod');
    expect(stages.async).not.toContain('piscina');
    expect(stages.threads).toContain('piscina');
    expect(result).toEqual(['once', 3, 55]);
  }, 60_000);
});
