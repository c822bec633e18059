import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { json, tracker } from './helpers.js';

const { server, client, closeAll } = tracker();

afterEach(closeAll);

/** A client whose warn lines are collected as parsed JSON. */
function loggedClient(options: { baseUrl?: string } = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString().split('\n'))
        if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const c = createClient({ ...options, logger: pino({ level: 'warn' }, sink), maxRetries: 0 });
  return { c, lines };
}

describe('sendRequest names the real problem with a bad URL', () => {
  it('says what is wrong with each kind of bad endpoint, sends nothing, and logs the given URL', async () => {
    const { c, lines } = loggedClient();
    const cases: [string, string][] = [
      [
        'ftp://files.example.com/a',
        'unsupported URL scheme "ftp:" in endpoint "ftp://files.example.com/a": only http: and https: are supported',
      ],
      [
        'mailto:ops@example.com',
        'unsupported URL scheme "mailto:" in endpoint "mailto:ops@example.com": only http: and https: are supported',
      ],
      [
        'example.com/x',
        'endpoint "example.com/x" has no scheme: write "https://example.com/x" (or set a baseUrl and pass a path)',
      ],
      [
        'localhost:3000/api',
        'endpoint "localhost:3000/api" has no scheme: write "https://localhost:3000/api" (or set a baseUrl and pass a path)',
      ],
      ['http://exa mple.com/x', 'endpoint "http://exa mple.com/x" has an invalid host "exa mple.com"'],
      ['https://example.com:99999/x', 'endpoint "https://example.com:99999/x" has an invalid port "99999"'],
      ['http://', 'endpoint "http://" has no host'],
      ['http:example.com', 'endpoint "http:example.com" is not a valid URL: write it as http://host/path'],
      ['', 'endpoint is empty: give an absolute http(s) URL, or a path together with a baseUrl'],
      ['   ', 'endpoint is empty: give an absolute http(s) URL, or a path together with a baseUrl'],
      [
        '/items',
        'relative endpoint "/items" needs a baseUrl (RequestConfig.baseUrl, createClient({ baseUrl }) or an absolute http(s) URL)',
      ],
    ];
    for (const [endpoint, message] of cases) {
      const res = await c.send({ endpoint });
      expect(res.ok, endpoint).toBe(false);
      expect(res.error, endpoint).toEqual({ code: 'BAD_REQUEST', message });
      expect(res.attempts, endpoint).toBe(0);
    }
    // One warn line per call, naming the URL as given (never an empty url field).
    expect(lines).toHaveLength(cases.length);
    expect(lines.map((l) => l.url)).toEqual(cases.map(([e]) => (e === '' ? '(empty)' : e)));
    for (const l of lines) expect(l.msg).toMatch(/^http request failed: /);
    expect(lines.every((l) => l.url !== '')).toBe(true);
    await c.close();
  });

  it('refuses an unsupported scheme even with a baseUrl instead of sending it as a path', async () => {
    const s = await server((_req, res) => json(res, 200, { ok: true }));
    const c = client({ baseUrl: s.url });
    const res = await c.send({ endpoint: 'ftp://files.example.com/a' });
    expect(res.error?.message).toBe(
      'unsupported URL scheme "ftp:" in endpoint "ftp://files.example.com/a": only http: and https: are supported',
    );
    // Paths (also with a colon, and host-like ones) still go under the baseUrl.
    expect((await c.send({ endpoint: '/a:b' })).status).toBe(200);
    expect((await c.send({ endpoint: 'example.com/x' })).status).toBe(200);
    expect((await c.send({ endpoint: '' })).status).toBe(200);
    expect(s.seen.map((r) => r.url)).toEqual(['/a:b', '/example.com/x', '/']);
  });

  it('names a bad baseUrl as the baseUrl', async () => {
    const noScheme = await createClient({ baseUrl: 'api.example.com', maxRetries: 0, silent: true }).send({
      endpoint: '/x',
    });
    expect(noScheme.error).toEqual({
      code: 'BAD_REQUEST',
      message: 'baseUrl "api.example.com" has no scheme: write "https://api.example.com"',
    });
    const ftp = await createClient({ baseUrl: 'ftp://files.example.com', maxRetries: 0, silent: true }).send({
      endpoint: '/x',
    });
    expect(ftp.error?.message).toBe(
      'unsupported URL scheme "ftp:" in baseUrl "ftp://files.example.com": only http: and https: are supported',
    );
    const host = await createClient({ baseUrl: 'https://bad host', maxRetries: 0, silent: true }).send({
      endpoint: '/x',
    });
    expect(host.error?.message).toBe('baseUrl "https://bad host" has an invalid host "bad host"');
  });

  it('keeps credentials and secret query values out of the message and the log line', async () => {
    const { c, lines } = loggedClient();
    const res = await c.send({ endpoint: 'ftp://admin:hunter2@files.example.com/a?token=abc123&page=2' });
    expect(res.error?.code).toBe('BAD_REQUEST');
    expect(res.error?.message).toContain('unsupported URL scheme "ftp:"');
    expect(res.error?.message).toContain('page=2');
    const everything = JSON.stringify([res.error, res.log, res.toJSON(), lines]);
    expect(everything).not.toContain('hunter2');
    expect(everything).not.toContain('abc123');
    expect(lines[0]?.url).toBe('ftp://admin:[redacted]@files.example.com/a?token=[redacted]&page=2');
    await c.close();
  });

  it('names a non-string endpoint by its type', async () => {
    const { c, lines } = loggedClient();
    const res = await c.send({ endpoint: 42 as unknown as string });
    expect(res.error).toEqual({ code: 'BAD_REQUEST', message: 'endpoint must be a string, got (number)' });
    expect(lines[0]?.url).toBe('(number)');
    await c.close();
  });
});
