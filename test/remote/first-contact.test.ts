import { afterEach, describe, expect, it } from 'vitest';
import { makePortal } from '../helpers.js';
import { captureLogger, FAST, Fixture, waitFor } from './helpers.js';

interface Line {
  level: number;
  msg: string;
}

const WARN = 40;

function parse(lines: readonly string[]): Line[] {
  return lines.map((l) => JSON.parse(l) as Line);
}

/**
 * The rule (README, Remote control): no warning before the first connection attempt has had its chance. Until it
 * settles the portal is OFFLINE in closed mode ("starting: waiting for its remote control"), logged at info.
 */
describe('ServicePortal with lifecycle source remote: the first lines', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  async function portal(fixture: Fixture): Promise<{ lines: string[]; status: () => string }> {
    const { logger, lines } = captureLogger();
    const made = makePortal({
      logger,
      lifecycle: {
        source: 'remote',
        remote: { token: fixture.token, wsUrl: fixture.server.wsUrl, env: {}, ...FAST },
      },
    });
    fixture.onCleanup(made.stop);
    await made.start();
    return { lines, status: () => made.portal.lifecycle.status };
  }

  it('logs no warning on a clean start: starts OFFLINE at info, then the first contact', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const { lines, status } = await portal(f);
    await waitFor(() => status() === 'ACTIVE', 'ACTIVE');
    const parsed = parse(lines);
    const connected = parsed.findIndex((l) => l.msg === 'remote control: connected');
    expect(connected).toBeGreaterThan(-1);
    const before = parsed.slice(0, connected);
    expect(before.filter((l) => l.level >= WARN)).toEqual([]);
    // Where it starts is said once, at info, with the honest reason.
    expect(before.find((l) => l.msg === 'lifecycle starts in OFFLINE')?.level).toBe(30);
    expect(parsed.some((l) => l.msg.includes('cannot be reached'))).toBe(false);
    expect(parsed.find((l) => l.msg === 'remote control: OFFLINE -> ACTIVE (first contact)')?.level).toBe(30);
    expect(parsed.filter((l) => l.level >= WARN && l.msg.startsWith('remote control'))).toEqual([]);
  });

  it('warns once when the first attempt fails, and not before it was tried', async () => {
    f = new Fixture();
    await f.start();
    await f.server.close(); // nothing listens: the first attempt fails
    const { lines } = await portal(f);
    await waitFor(() => parse(lines).some((l) => l.level >= WARN), 'a warning');
    const parsed = parse(lines);
    const firstWarn = parsed.findIndex((l) => l.level >= WARN);
    expect(parsed[firstWarn]?.msg).toBe(
      'remote control: the first connection attempt failed; OFFLINE (fail mode closed) until the control plane answers',
    );
    // The attempt was made before the warning (the connecting line is debug).
    expect(parsed.slice(0, firstWarn).some((l) => l.msg === 'remote control: connecting')).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // several more failed attempts
    expect(parse(lines).filter((l) => l.msg.includes('first connection attempt failed'))).toHaveLength(1);
  });
});
