import { afterEach, describe, expect, it } from 'vitest';
import { runStages } from '../database/fixtures/run-stages.js';
import { json, tracker } from './helpers.js';

const { server, closeAll } = tracker();

describe('gatehouse/client load on use', () => {
  afterEach(closeAll);

  it('loads undici on the first outbound request, not at import nor when a client is created', async () => {
    const s = await server((_req, res) => json(res, 200, { ok: true }));
    const { stages, result } = await runStages('client', `${s.url}/x`);
    expect(stages.imported).not.toContain('undici');
    expect(stages.imported).not.toContain('zod');
    expect(stages.created).not.toContain('undici');
    expect(stages.used).toContain('undici');
    expect(result).toEqual([200, 200]);
  }, 60_000);
});
