import { afterEach, describe, expect, it } from 'vitest';
import { TaskBuffer } from '../../src/buffers/index.js';
import { Fixture, sleep, waitFor } from './helpers.js';

describe('RemoteControl in a worker', () => {
  let f: Fixture | undefined;
  let tasks: TaskBuffer<{ T: (d: string) => void }> | undefined;
  afterEach(async () => {
    await tasks?.stop({ timeoutMs: 0 });
    tasks = undefined;
    await f?.close();
    f = undefined;
  });

  it('drives a TaskBuffer: no new jobs while the control plane says PAUSED, resumes on ACTIVE', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'closed' });
    const px = f.control();
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    const ran: string[] = [];
    tasks = new TaskBuffer({
      dataDir: f.dir,
      queue: 'remote-worker',
      lifecycle: px,
      pollIntervalMs: 20,
      handlers: { T: (d: string) => void ran.push(d) },
    });
    tasks.start();
    tasks.push('T', 'a');
    await sleep(200);
    expect(ran).toEqual([]);
    expect(tasks.isPaused).toBe(true);
    expect(tasks.stats().pending).toBe(1);
    f.server.setStatus(f.token, { status: 'ACTIVE' });
    await waitFor(() => ran.length === 1, 'the job ran');
    expect(ran).toEqual(['a']);
    expect(px.options.token).toBe('[redacted]');
  });
});
