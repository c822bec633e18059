import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

declare const window: {
  __events: Array<{ type: string; data: string; lastEventId: string }>;
  __es: { close(): void; readyState: number };
};
declare const EventSource: new (url: string) => {
  addEventListener(type: string, listener: (e: { data: string; lastEventId: string }) => void): void;
  close(): void;
  readyState: number;
};

const CHROMIUM = '/usr/bin/chromium';
const REQUIRE_BROWSER = process.env.GATEHOUSE_REQUIRE_BROWSER === '1';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && !REQUIRE_BROWSER)
  console.warn(
    `[streams] SKIPPING the EventSource browser test: no ${CHROMIUM} (set GATEHOUSE_REQUIRE_BROWSER=1 to make this a failure)`,
  );
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

describe.skipIf(!hasBrowser && !REQUIRE_BROWSER)('portal.stream in Chromium (EventSource)', () => {
  let browser: Browser | undefined;
  const cleanups: Array<() => unknown> = [];
  beforeAll(async () => {
    if (hasBrowser) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('receives sendToUser, reconnects by itself with Last-Event-ID and gets what it missed, and stops on event: close', async () => {
    const { portal, url, start, stop } = makePortal();
    const requests: IncomingMessage[] = [];
    portal.stream(
      '/api/feed',
      { description: 'Live feed', input: z.object({ topic: z.string() }), retryMs: 100 },
      async ({ input, stream, req, resumed }) => {
        requests.push(req);
        await stream.joinGroup(input.topic);
        if (!resumed) stream.send('hello', { topic: input.topic });
      },
    );
    await start();
    cleanups.push(stop);
    const token = await portal.tokens.issue({ sub: '42' });
    const page: Page = await browser!.newPage();
    cleanups.push(() => page.close());
    await page.goto(url('/health'));
    await page.evaluate((src) => {
      window.__events = [];
      const es = new EventSource(src);
      window.__es = es;
      for (const type of ['hello', 'notification', 'reset', 'close'])
        es.addEventListener(type, (e) => {
          window.__events.push({ type, data: e.data, lastEventId: e.lastEventId });
          if (type === 'close') es.close();
        });
    }, `/api/feed?topic=news&access_token=${token}`);
    const events = (): Promise<Array<{ type: string; data: string; lastEventId: string }>> =>
      page.evaluate(() => window.__events);
    await expect.poll(async () => (await events()).length).toBe(1);

    await portal.sendToUser('42', 'notification', { n: 1 });
    await expect.poll(async () => (await events()).length).toBe(2);
    // Cut the connection under the browser, deliver while it is away; EventSource reconnects with Last-Event-ID.
    requests[0]!.socket.destroy();
    await expect.poll(() => portal.streamCount).toBe(1);
    await portal.sendToGroup('news', 'notification', { n: 2 });
    await portal.sendToUser('42', 'notification', { n: 3 });
    await expect.poll(async () => (await events()).length, { timeout: 5000 }).toBe(4);
    expect(requests.length).toBe(2);
    expect(requests[1]!.headers['last-event-id']).toBe((await events())[1]!.lastEventId);
    const got = await events();
    expect(got.map((e) => [e.type, JSON.parse(e.data)])).toEqual([
      ['hello', { topic: 'news' }],
      ['notification', { n: 1 }],
      ['notification', { n: 2 }],
      ['notification', { n: 3 }],
    ]);
    expect(got.map((e) => Number(e.lastEventId.split('-').pop()))).toEqual([1, 2, 3, 4]);

    // Revoking the token ends the stream; the page sees event: close and stops.
    await portal.revokeToken(token);
    await expect.poll(async () => (await events()).at(-1)?.type).toBe('close');
    expect(JSON.parse((await events()).at(-1)!.data)).toMatchObject({ code: 'ERR_AUTH_REVOKED' });
    expect(await page.evaluate(() => window.__es.readyState)).toBe(2);
    expect(portal.streamCount).toBe(0);
  }, 30_000);
});
