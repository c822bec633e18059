import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane/index.js';
import { z } from '../../src/index.js';
import { makePortal, tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

// The few browser globals the page callbacks touch (the tests' tsconfig has no DOM lib).
declare const document: {
  activeElement: { id?: string; getAttribute(name: string): string | null } | null;
  documentElement: { scrollWidth: number };
  body: unknown;
};
declare const window: {
  innerWidth: number;
  getComputedStyle(el: unknown): { marginTop: string };
};

const CHROMIUM = '/usr/bin/chromium';
const REQUIRE_BROWSER = process.env.GATEHOUSE_REQUIRE_BROWSER === '1';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && !REQUIRE_BROWSER)
  console.warn(
    `[control-plane] SKIPPING the dashboard browser tests: no ${CHROMIUM} (apt-get install -y chromium; set GATEHOUSE_REQUIRE_BROWSER=1 to make this a failure)`,
  );
const ADMIN = 'admin-token-for-tests-0123456789';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.skipIf(!hasBrowser && !REQUIRE_BROWSER)('ControlPlane dashboard (Chromium)', () => {
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

  it('requires Chromium when GATEHOUSE_REQUIRE_BROWSER=1', () => {
    expect(hasBrowser).toBe(true);
  });

  async function start(): Promise<{ cp: ControlPlane; base: string; token: string }> {
    const { dir, cleanup } = tempDir('gatehouse-cp-ui-');
    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN });
    cleanups.push(cleanup, () => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    const { token } = await cp.createProject({ name: 'notes' });
    return { cp, base: `http://127.0.0.1:${cp.port}`, token };
  }

  it('logs in, lists the project with its instances, and "Set notes to PAUSED" gates a following portal within 1 s while the page shows PAUSED without a reload', async () => {
    const { cp, base, token } = await start();
    const instance = await PxClient.connect(base, token);
    cleanups.push(() => instance.close());
    await instance.status('ACTIVE');
    instance.heartbeat({ sdk_version: '0.1.3', language: 'node', env: 'production' });
    // A gatehouse portal following the project through the remote lifecycle source.
    const follower = makePortal({
      lifecycle: {
        source: 'remote',
        remote: {
          token,
          wsUrl: base.replace(/^http/, 'ws'),
          environment: 'portal-e2e',
          heartbeatIntervalMs: 500,
          disableVersionCheck: true,
          env: {},
        },
      },
    });
    follower.portal.endpoint(
      '/api/work',
      { method: 'GET', description: 'work', input: z.object({}), gate: { auth: 'none' } },
      () => ({ ok: true }),
    );
    cleanups.push(follower.stop);
    await follower.start();
    await expect.poll(async () => (await fetch(follower.url('/api/work'))).status, { timeout: 5000 }).toBe(200);

    const context = await browser!.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    let navigations = 0;
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations++);
    await page.goto(base);
    expect(navigations).toBe(1);

    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const row = page.locator('tr[data-project="notes"]');
    await row.waitFor();
    await expect.poll(() => page.getByTestId('state-notes').textContent()).toBe('ACTIVE');
    await expect.poll(() => row.textContent(), { timeout: 3000 }).toMatch(/node 0\.1\.3 · production · live/);
    for (const state of ['ACTIVE', 'PAUSED', 'MAINTENANCE', 'OFFLINE', 'FAILED'])
      expect(await page.getByRole('button', { name: `Set notes to ${state}` }).count()).toBe(1);
    // Every control's accessible name contains its visible text (WCAG 2.5.3, so voice control can say what it sees).
    const labels = await page
      .locator('tr[data-project="notes"] button')
      .evaluateAll((els) => els.map((e) => [e.textContent ?? '', e.getAttribute('aria-label') ?? '']));
    expect(labels.length).toBe(7);
    for (const [text, name] of labels) expect(name.toLowerCase()).toContain(text.toLowerCase());

    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await page.getByLabel(/^Message/).fill('Invoice due');
    const clicked = Date.now();
    await page.getByRole('button', { name: 'Set notes to PAUSED' }).click();
    let gated: Response;
    do gated = await fetch(follower.url('/api/work'));
    while (gated.status === 200 && Date.now() - clicked < 2000);
    expect(Date.now() - clicked).toBeLessThan(1000);
    expect(gated.status).toBe(503);
    expect(await gated.json()).toMatchObject({ code: 'SERVICE_PAUSED', detail: 'Invoice due' });
    await expect.poll(() => page.getByTestId('state-notes').textContent(), { timeout: 2000 }).toBe('PAUSED');
    expect(Date.now() - clicked).toBeLessThan(2000);
    await expect.poll(() => row.textContent(), { timeout: 3000 }).toMatch(/portal-e2e/);
    expect(await instance.status('PAUSED', { timeoutMs: 1000 })).toMatchObject({ pause_message: 'Invoice due' });
    expect(cp.project('notes')?.state).toBe('PAUSED');
    // No reload: the page's own state survived and no second navigation happened.
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(navigations).toBe(1);
    await expect.poll(() => page.locator('#audit').textContent()).toMatch(/status \(Invoice due\).*ACTIVE.*PAUSED/);

    // An instance that connects after the page loaded shows up live too.
    const late = await PxClient.connect(base, token);
    cleanups.push(() => late.close());
    late.heartbeat({ env: 'late-joiner' });
    await expect.poll(() => row.textContent(), { timeout: 3000 }).toMatch(/late-joiner/);
    // A change made elsewhere (the API) shows up live too.
    await cp.setStatus('notes', 'MAINTENANCE', { message: 'Back at 10:00' });
    await expect.poll(() => page.getByTestId('state-notes').textContent(), { timeout: 2000 }).toBe('MAINTENANCE');
    expect(navigations).toBe(1);
    expect(errors).toEqual([]);
    // docs/control-plane.png comes from here: GATEHOUSE_CONTROL_SCREENSHOT=docs/control-plane.png npx vitest run test/control-plane/dashboard.test.ts
    if (process.env.GATEHOUSE_CONTROL_SCREENSHOT)
      await page.screenshot({ path: process.env.GATEHOUSE_CONTROL_SCREENSHOT, fullPage: true });
  }, 60_000);

  it('works from the keyboard alone and fits a phone screen', async () => {
    const { cp, base } = await start();
    const context = await browser!.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(base);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('admin-token');
    await page.keyboard.type(ADMIN);
    await page.keyboard.press('Enter');
    await page.locator('tr[data-project="notes"]').waitFor();
    const target = page.getByRole('button', { name: 'Set notes to OFFLINE' });
    // Tab through the page until the control has focus: every control is reachable in tab order.
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await target.evaluate((el) => el === document.activeElement);
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('state-notes').textContent(), { timeout: 2000 }).toBe('OFFLINE');
    expect(cp.project('notes')?.state).toBe('OFFLINE');
    // Focus stays on the control after the live re-render.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Set notes to OFFLINE');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    if (process.env.GATEHOUSE_CONTROL_SCREENSHOT)
      await page.screenshot({
        path: process.env.GATEHOUSE_CONTROL_SCREENSHOT.replace(/\.png$/, '-phone.png'),
        fullPage: true,
      });
  }, 60_000);

  it('creates a project from the form and shows its token once, and the token opens a socket', async () => {
    const { cp, base } = await start();
    const context = await browser!.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(base);
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('tr[data-project="notes"]').waitFor();
    await page.getByLabel('New project name').fill('billing');
    await page.getByLabel('Fail mode of the new project').selectOption('open');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.locator('tr[data-project="billing"]').waitFor();
    const shown = (await page.locator('#new-token-value').textContent()) ?? '';
    expect(shown).toMatch(/^px_[A-Za-z0-9_-]{43}$/);
    expect(cp.project('billing')).toMatchObject({ failMode: 'open', state: 'ACTIVE' });
    const client = await PxClient.connect(base, shown);
    cleanups.push(() => client.close());
    expect(await client.status('ACTIVE')).toMatchObject({ project: 'billing', fail_mode: 'open' });
    // Shown once: a reload (a new session of the page) no longer has it.
    await page.reload();
    await page.locator('tr[data-project="billing"]').waitFor();
    expect(await page.locator('#new-token').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(shown);
  }, 60_000);

  it('refuses a wrong admin token and stays signed out', async () => {
    const { base } = await start();
    const context = await browser!.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(base);
    await page.getByLabel('Admin token').fill('not-the-admin-token-000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#notice').textContent()).toMatch(/refused/);
    expect(await page.locator('#app').isHidden()).toBe(true);
    expect(await page.locator('tr[data-project="notes"]').count()).toBe(0);
  }, 60_000);

  it('serves the page, its stylesheet and its script from the asset files, and the browser applies the stylesheet', async () => {
    const { base } = await start();
    const asset = (name: string): string =>
      readFileSync(new URL(`../../src/control-plane/dashboard/${name}`, import.meta.url), 'utf8');
    for (const [path, file, type] of [
      ['/', 'index.html', 'text/html'],
      ['/dashboard.css', 'dashboard.css', 'text/css'],
      ['/dashboard.js', 'dashboard.js', 'application/javascript'],
    ] as const) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      expect(await res.text(), path).toBe(asset(file));
    }
    const context = await browser!.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(base);
    // dashboard.css sets `body { margin: 0 }`; a browser's own stylesheet gives 8px.
    expect(await page.evaluate(() => window.getComputedStyle(document.body).marginTop)).toBe('0px');
  });
});
