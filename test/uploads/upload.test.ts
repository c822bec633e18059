import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z, type PortalOptions, type ServicePortal, type UploadConfig } from '../../src/index.js';
import { makePortal, tempDir } from '../helpers.js';

const SERVER = fileURLToPath(new URL('./fixtures/upload-server.ts', import.meta.url));
import { PDF_HEAD, PNG_HEAD, upload, type Part } from './multipart.js';

const MiB = 1024 * 1024;
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

interface Fixture {
  portal: ServicePortal;
  url: string;
  dir: string;
  calls: Array<{ input: unknown; files: Array<Record<string, unknown>> }>;
  /** Files left in the upload temp folder. */
  leftovers: () => string[];
}

async function start(config: UploadConfig, options: PortalOptions = {}, keep?: string): Promise<Fixture> {
  const { portal, url, dir, start: run, stop } = makePortal(options);
  const calls: Fixture['calls'] = [];
  portal.endpoint(
    '/api/files',
    { description: 'Upload', gate: { auth: 'none' }, upload: config, input: z.object({ title: z.string().min(1) }) },
    async ({ input, files }) => {
      calls.push({ input, files: files.map((f) => ({ ...f })) });
      if (keep) for (const f of files) await rename(f.path, path.join(keep, f.name));
      return files.map((f) => ({ field: f.field, name: f.name, size: f.size, type: f.type }));
    },
  );
  await run();
  stops.push(stop);
  const tmp = path.join(dir, 'tmp-uploads');
  return {
    portal,
    url: url('/api/files'),
    dir,
    calls,
    leftovers: () => (existsSync(tmp) ? readdirSync(tmp) : []),
  };
}

const title: Part = { name: 'title', value: 'Report' };
const png = (size: number, filename = 'a.png'): Part => ({
  name: 'file',
  filename,
  type: 'image/png',
  head: PNG_HEAD,
  size,
});

describe('endpoint upload (multipart/form-data)', () => {
  it('streams 15 MiB files to temp files with bounded memory, validates the fields, and removes the files after the handler', async () => {
    // The server runs in its own process, so its RSS is measured alone (garbage collected before every sample).
    const { dir, cleanup } = tempDir();
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SERVER, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' },
    });
    stops.push(async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
      cleanup();
    });
    let out = '';
    while (!/PORT=\d+\n/.test(out)) out += ((await once(child.stdout!, 'data')) as [Buffer])[0].toString();
    const base = `http://127.0.0.1:${/PORT=(\d+)/.exec(out)![1]}`;
    await fetch(`${base}/reset`, { method: 'POST' });
    const parts: Part[] = [
      title,
      png(15 * MiB, 'one.png'),
      png(15 * MiB, 'two.png'),
      { name: 'doc', filename: 'c:\\temp\\three.pdf', type: 'application/pdf', head: PDF_HEAD, size: 15 * MiB },
      png(15 * MiB, '../../four.png'),
    ];
    const res = await upload(`${base}/api/files`, parts);
    expect(res.status, res.body).toBe(200);
    const files = res.json() as unknown as Array<Record<string, unknown>>;
    expect(files.map(({ path: _p, ...f }) => f)).toEqual([
      { field: 'file', name: 'one.png', size: 15 * MiB, type: 'image/png' },
      { field: 'file', name: 'two.png', size: 15 * MiB, type: 'image/png' },
      { field: 'doc', name: 'three.pdf', size: 15 * MiB, type: 'application/pdf' },
      { field: 'file', name: 'four.png', size: 15 * MiB, type: 'image/png' },
    ]);
    // 60 MiB went through; held whole in memory it would be at least that. Streamed, the growth is the write
    // buffers plus socket chunks not yet collected: 10.6-12.1 MiB measured on a quiet machine, 18 MiB once on a
    // loaded CI run (the 20 ms collector ticks late there), so the bound is 24 MiB: well under what went through.
    const { growth } = (await (await fetch(`${base}/peak`)).json()) as { growth: number };
    console.log(`[upload] RSS growth ${(growth / MiB).toFixed(1)} MiB for 60 MiB uploaded`);
    expect(growth).toBeGreaterThan(0);
    expect(growth).toBeLessThan(24 * MiB);
    for (const f of files) {
      expect(path.dirname(f.path as string)).toBe(path.join(dir, 'tmp-uploads'));
      expect(existsSync(f.path as string)).toBe(false);
    }
    expect(readdirSync(path.join(dir, 'tmp-uploads'))).toEqual([]);
  }, 60_000);

  it('keeps a file the handler moved, with its exact bytes', async () => {
    const { dir: keep, stop } = makePortal();
    stops.push(stop);
    const f = await start({ maxFileBytes: MiB }, {}, keep);
    const res = await upload(f.url, [title, png(100_000, 'kept.png')]);
    expect(res.status).toBe(200);
    const bytes = await readFile(path.join(keep, 'kept.png'));
    expect(bytes.length).toBe(100_000);
    expect(bytes.subarray(0, 16)).toEqual(PNG_HEAD);
    expect(f.leftovers()).toEqual([]);
  });

  it('answers 413 ERR_UPLOAD_TOO_LARGE past the per-file or the total limit, leaving nothing on disk', async () => {
    const f = await start({ maxFileBytes: MiB, maxFiles: 3, maxTotalBytes: 2 * MiB });
    const big = await upload(f.url, [title, png(2 * MiB)]);
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ code: 'ERR_UPLOAD_TOO_LARGE', status: 413 });
    const total = await upload(f.url, [title, png(MiB - 10, 'a.png'), png(MiB - 10, 'b.png'), png(MiB - 10, 'c.png')]);
    expect(total.status).toBe(413);
    expect(total.json().code).toBe('ERR_UPLOAD_TOO_LARGE');
    expect(f.calls).toEqual([]);
    expect(f.leftovers()).toEqual([]);
  });

  it('answers 413 ERR_UPLOAD_TOO_MANY for more files than allowed, leaving nothing on disk', async () => {
    const f = await start({ maxFileBytes: MiB, maxFiles: 2 });
    const res = await upload(f.url, [title, png(300_000, 'a.png'), png(300_000, 'b.png'), png(300_000, 'c.png')]);
    expect(res.status).toBe(413);
    expect(res.json().code).toBe('ERR_UPLOAD_TOO_MANY');
    expect(f.calls).toEqual([]);
    expect(f.leftovers()).toEqual([]);
  });

  it('answers 415 ERR_UPLOAD_TYPE for a type not allowed, or bytes that are not what the type says', async () => {
    const f = await start({ maxFileBytes: MiB, types: ['image/png', 'text/plain'] });
    const declared = await upload(f.url, [
      title,
      { name: 'file', filename: 'a.pdf', type: 'application/pdf', head: PDF_HEAD, size: 1000 },
    ]);
    expect(declared.status).toBe(415);
    expect(declared.json().code).toBe('ERR_UPLOAD_TYPE');
    // A PDF declared as PNG.
    const disguised = await upload(f.url, [
      title,
      { name: 'file', filename: 'a.png', type: 'image/png', head: PDF_HEAD, size: 400_000 },
    ]);
    expect(disguised.status).toBe(415);
    expect(disguised.json().code).toBe('ERR_UPLOAD_TYPE');
    // A PNG declared as text.
    const binary = await upload(f.url, [
      title,
      { name: 'file', filename: 'a.txt', type: 'text/plain', head: PNG_HEAD, size: 1000 },
    ]);
    expect(binary.status).toBe(415);
    // Real text passes.
    const text = await upload(f.url, [
      title,
      { name: 'file', filename: 'a.txt', type: 'text/plain', head: Buffer.from('hello world, plain text'), size: 23 },
    ]);
    expect(text.status, text.body).toBe(200);
    expect(f.calls.length).toBe(1);
    expect(f.leftovers()).toEqual([]);
  });

  it('validates the fields with input (400), refuses a non-multipart body (415), and removes the files', async () => {
    const f = await start({ maxFileBytes: MiB });
    const missing = await upload(f.url, [png(200_000)]);
    expect(missing.status).toBe(400);
    expect(missing.json().code).toBe('ERR_VALIDATION');
    const json = await fetch(f.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"title":"x"}',
    });
    expect(json.status).toBe(415);
    expect(f.calls).toEqual([]);
    expect(f.leftovers()).toEqual([]);
  });

  it('removes what an upload aborted mid-way wrote, and never runs the handler', async () => {
    const f = await start({ maxFileBytes: 20 * MiB });
    const res = await upload(f.url, [title, png(15 * MiB)], { abortAfter: 5 * MiB });
    expect(res.status).toBe(0);
    await expect.poll(() => f.leftovers(), { timeout: 3000 }).toEqual([]);
    // The portal still serves.
    expect((await upload(f.url, [title, png(1000)])).status).toBe(200);
    expect(f.calls.length).toBe(1);
  });

  it('answers 408 when the body stalls past bodyTimeoutMs, and removes the partial file', async () => {
    const f = await start({ maxFileBytes: 20 * MiB }, { bodyTimeoutMs: 300 });
    const res = await upload(f.url, [title, png(5 * MiB)], { stallAfter: 2 * MiB });
    expect([0, 408]).toContain(res.status);
    await expect.poll(() => f.leftovers(), { timeout: 3000 }).toEqual([]);
    expect(f.calls).toEqual([]);
  });

  it('refuses bad upload options and upload on a GET', () => {
    const { portal, stop } = makePortal();
    stops.push(stop);
    expect(() => portal.endpoint('/a', { description: 'x', upload: { maxFiles: 0 } }, () => 1)).toThrow(/maxFiles/);
    expect(() => portal.endpoint('/b', { description: 'x', upload: { types: ['png'] } }, () => 1)).toThrow(/types/);
    expect(() => portal.endpoint('/c', { method: 'GET', description: 'x', upload: {} }, () => 1)).toThrow(
      /POST, PUT or PATCH/,
    );
  });
});
