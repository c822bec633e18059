import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CryptoError, Fernet, FERNET_MAX_CLOCK_SKEW_SEC } from '../../src/crypto/index.js';
import { expectThrown } from '../helpers.js';

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

function fixture<T>(name: string): T[] {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T[];
}

const generate = fixture<GenerateVector>('generate.json');
const verify = fixture<VerifyVector>('verify.json');
const invalid = fixture<InvalidVector>('invalid.json');

/** Assert that `fn` throws the one token error, and return its message. */
function expectInvalid(fn: () => unknown): string {
  const err = expectThrown(fn, CryptoError);
  expect(err.code).toBe('ERR_FERNET_INVALID');
  expect(err.cause).toBeUndefined();
  return err.message;
}

function toBytes(token: string): Buffer {
  return Buffer.from(token, 'base64url');
}

function toToken(bytes: Buffer): string {
  return bytes.toString('base64url') + ['', '==', '='][bytes.length % 3]!;
}

describe('Fernet', () => {
  it('gives every token its own random IV, across refills of the IV pool (1,000 tokens)', () => {
    const f = new Fernet(Fernet.generateKey());
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const token = f.encrypt('same text');
      ivs.add(Buffer.from(token, 'base64url').subarray(9, 25).toString('hex'));
      expect(f.decrypt(token).toString('utf8')).toBe('same text');
    }
    expect(ivs.size).toBe(1000);
  });

  describe('specification vectors', () => {
    it('generates the generate.json tokens byte for byte', () => {
      expect(generate.length).toBeGreaterThan(0);
      for (const v of generate) {
        const token = new Fernet(v.secret).encrypt(v.src, { now: new Date(v.now), iv: Uint8Array.from(v.iv) });
        expect(token).toBe(v.token);
      }
    });

    it('opens the verify.json tokens within their TTL', () => {
      expect(verify.length).toBeGreaterThan(0);
      for (const v of verify) {
        const plain = new Fernet(v.secret).decrypt(v.token, { ttlSec: v.ttl_sec, now: new Date(v.now) });
        expect(plain.toString('utf8')).toBe(v.src);
      }
    });

    it('refuses every invalid.json token with the same code and message', () => {
      expect(invalid.length).toBe(11);
      const messages = new Set<string>();
      for (const v of invalid) {
        const f = new Fernet(v.secret);
        messages.add(expectInvalid(() => f.decrypt(v.token, { ttlSec: v.ttl_sec, now: new Date(v.now) })));
      }
      expect([...messages]).toEqual(['Invalid Fernet token']);
    });
  });

  describe('keys', () => {
    it('generates url-safe base64 keys of 32 random bytes, with padding', () => {
      const a = Fernet.generateKey();
      const b = Fernet.generateKey();
      expect(a).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(Buffer.from(a, 'base64url')).toHaveLength(32);
      expect(a).not.toBe(b);
      expect(new Fernet(a).decrypt(new Fernet(a).encrypt('x')).toString()).toBe('x');
    });

    it('rejects malformed keys at construction with ERR_FERNET_KEY', () => {
      const good = Fernet.generateKey();
      const bad: unknown[] = [
        '',
        good.slice(0, 43), // no padding
        good.slice(0, 40) + '=', // too short
        good.replace(/^./, '+'), // standard (not url-safe) alphabet
        Buffer.alloc(32),
        42,
      ];
      for (const key of bad) {
        const err = expectThrown(() => new Fernet(key as string), CryptoError);
        expect(err.code).toBe('ERR_FERNET_KEY');
        expect(err.message).toMatch(/^Fernet key /);
      }
      const listed = expectThrown(() => new Fernet([good, 'nope']), CryptoError);
      expect(listed.code).toBe('ERR_FERNET_KEY');
      expect(listed.message).toContain('keys[1]');
      expect(expectThrown(() => new Fernet([]), CryptoError).code).toBe('ERR_FERNET_KEY');
    });
  });

  describe('encrypt and decrypt', () => {
    it('round-trips strings as UTF-8 and bytes as given, including empty input', () => {
      const f = new Fernet(Fernet.generateKey());
      expect(f.decrypt(f.encrypt('4111 1111 1111 1111 — ünïcødé')).toString('utf8')).toBe(
        '4111 1111 1111 1111 — ünïcødé',
      );
      const bytes = Buffer.from([0, 255, 1, 254, 16, 15]);
      expect(f.decrypt(f.encrypt(bytes)).equals(bytes)).toBe(true);
      expect(f.decrypt(f.encrypt(new Uint8Array(bytes))).equals(bytes)).toBe(true);
      expect(f.decrypt(f.encrypt(''))).toHaveLength(0);
      const block = Buffer.alloc(4096, 7);
      expect(f.decrypt(f.encrypt(block)).equals(block)).toBe(true);
      expect(f.decrypt(Buffer.from(f.encrypt('ascii bytes'))).toString()).toBe('ascii bytes');
    });

    it('makes a different token each time (random IV) in the padded url-safe alphabet', () => {
      const f = new Fernet(Fernet.generateKey());
      const tokens = new Set(Array.from({ length: 20 }, () => f.encrypt('same')));
      expect(tokens.size).toBe(20);
      for (const t of tokens) {
        expect(t).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
        expect(t.length % 4).toBe(0);
        expect(toBytes(t)[0]).toBe(0x80);
      }
    });

    it('enforces ttlSec against now, and refuses tokens from beyond the clock skew only when a TTL is set', () => {
      const f = new Fernet(Fernet.generateKey());
      const made = new Date('2026-01-01T00:00:00Z');
      const token = f.encrypt('t', { now: made });
      const at = (sec: number): Date => new Date(made.getTime() + sec * 1000);
      expect(f.decrypt(token, { ttlSec: 60, now: at(60) }).toString()).toBe('t');
      expectInvalid(() => f.decrypt(token, { ttlSec: 60, now: at(61) }));
      expect(f.decrypt(token, { ttlSec: 60, now: at(-FERNET_MAX_CLOCK_SKEW_SEC) }).toString()).toBe('t');
      expectInvalid(() => f.decrypt(token, { ttlSec: 60, now: at(-FERNET_MAX_CLOCK_SKEW_SEC - 1) }));
      // Without a TTL the timestamp is not checked at all (as in cryptography.fernet and the Go and Ruby ports).
      expect(f.decrypt(token, { now: at(10_000_000) }).toString()).toBe('t');
      expect(f.decrypt(token, { now: at(-10_000_000) }).toString()).toBe('t');
      expect(f.extractTimestamp(token).toISOString()).toBe(made.toISOString());
    });

    it('rejects bad options with ERR_FERNET_OPTIONS naming the option', () => {
      const f = new Fernet(Fernet.generateKey());
      const token = f.encrypt('x');
      const cases: Array<[() => unknown, string]> = [
        [() => f.decrypt(token, { ttlSec: -1 }), 'ttlSec'],
        [() => f.decrypt(token, { ttlSec: Number.NaN }), 'ttlSec'],
        [() => f.decrypt(token, { now: new Date('nope') }), 'now'],
        [() => f.encrypt('x', { iv: Buffer.alloc(15) }), 'iv'],
        [() => f.encrypt('x', { now: -5000 }), 'now'],
        [() => f.encrypt(42 as unknown as string), 'data'],
      ];
      for (const [fn, option] of cases) {
        const err = expectThrown(fn, CryptoError);
        expect(err.code).toBe('ERR_FERNET_OPTIONS');
        expect(err.message).toContain(`option "${option}"`);
      }
    });
  });

  describe('tampering', () => {
    it('refuses a token with any single byte changed, in every region, with the same error', () => {
      const f = new Fernet(Fernet.generateKey());
      const token = f.encrypt('a secret of exactly 32 bytes!!!!');
      const bytes = toBytes(token);
      const regions = {
        version: [0, 1],
        timestamp: [1, 9],
        iv: [9, 25],
        ciphertext: [25, bytes.length - 32],
        hmac: [bytes.length - 32, bytes.length],
      };
      expect(bytes.length).toBe(1 + 8 + 16 + 48 + 32);
      const messages = new Set<string>();
      let tried = 0;
      for (const [start, end] of Object.values(regions)) {
        for (let i = start!; i < end!; i++) {
          for (const flip of [0x01, 0x80]) {
            const copy = Buffer.from(bytes);
            copy[i] = copy[i]! ^ flip;
            messages.add(expectInvalid(() => f.decrypt(toToken(copy))));
            tried++;
          }
        }
      }
      expect(tried).toBe(bytes.length * 2);
      expect([...messages]).toEqual(['Invalid Fernet token']);
      // The untouched token still opens: the failures above come from the changes.
      expect(f.decrypt(token).toString()).toBe('a secret of exactly 32 bytes!!!!');
    });

    it('refuses truncated, extended, unpadded and non-string tokens', () => {
      const f = new Fernet(Fernet.generateKey());
      const token = f.encrypt('hello');
      const bytes = toBytes(token);
      expectInvalid(() => f.decrypt(toToken(bytes.subarray(0, bytes.length - 1))));
      expectInvalid(() => f.decrypt(toToken(bytes.subarray(0, 57))));
      expectInvalid(() => f.decrypt(toToken(Buffer.concat([bytes, Buffer.alloc(16)]))));
      expectInvalid(() => f.decrypt(token.replace(/=+$/, '')));
      expectInvalid(() => f.decrypt(''));
      expectInvalid(() => f.decrypt(undefined as unknown as string));
      expectInvalid(() => f.decrypt(`${token} `));
    });

    it('gives the same error for a correctly signed token whose plaintext padding is broken', () => {
      // Build a token our key signs but whose decrypted last block is not PKCS#7: only decryption can see it.
      const key = Fernet.generateKey();
      const raw = Buffer.from(key, 'base64url');
      const iv = Buffer.alloc(16, 3);
      const cipher = createCipheriv('aes-128-cbc', raw.subarray(16), iv).setAutoPadding(false);
      const body = Buffer.concat([cipher.update(Buffer.alloc(16, 0)), cipher.final()]);
      const head = Buffer.alloc(9);
      head[0] = 0x80;
      head.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)), 1);
      const signed = Buffer.concat([head, iv, body]);
      const mac = createHmac('sha256', raw.subarray(0, 16)).update(signed).digest();
      const message = expectInvalid(() => new Fernet(key).decrypt(toToken(Buffer.concat([signed, mac]))));
      expect(message).toBe('Invalid Fernet token');
    });
  });

  describe('rotation', () => {
    it('encrypts with the first key and opens tokens of any listed key', () => {
      const oldKey = Fernet.generateKey();
      const newKey = Fernet.generateKey();
      const oldToken = new Fernet(oldKey).encrypt('card');
      const both = new Fernet([newKey, oldKey]);
      expect(both.decrypt(oldToken).toString()).toBe('card');
      const fresh = both.encrypt('card');
      expect(new Fernet(newKey).decrypt(fresh).toString()).toBe('card');
      expectInvalid(() => new Fernet(oldKey).decrypt(fresh));
    });

    it('rotate() re-encrypts under the first key and keeps the original timestamp', () => {
      const oldKey = Fernet.generateKey();
      const newKey = Fernet.generateKey();
      const made = new Date('2026-03-01T12:00:00Z');
      const oldToken = new Fernet(oldKey).encrypt('ssn', { now: made });
      const rotated = new Fernet([newKey, oldKey]).rotate(oldToken);
      expect(rotated).not.toBe(oldToken);
      const onlyNew = new Fernet(newKey);
      expect(onlyNew.decrypt(rotated).toString()).toBe('ssn');
      expect(onlyNew.extractTimestamp(rotated).toISOString()).toBe(made.toISOString());
      expectInvalid(() => new Fernet(oldKey).decrypt(rotated));
      expectInvalid(() => new Fernet(newKey).rotate(new Fernet(Fernet.generateKey()).encrypt('x')));
    });
  });

  describe('interoperability with Python cryptography.fernet', () => {
    const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
    const hasPython = probe.status === 0;
    if (!hasPython) {
      console.warn(
        '[fernet.test] SKIPPED Python interoperability: `python3 -c "import cryptography"` failed on this machine',
      );
    }

    const py = (script: string, env: Record<string, string>): string =>
      execFileSync('python3', ['-c', script], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();

    it.skipIf(!hasPython)('Python opens a token made here, with a TTL', () => {
      const key = Fernet.generateKey();
      const plain = 'from node: ✓ ' + 'x'.repeat(100);
      const token = new Fernet(key).encrypt(plain);
      const out = py(
        'import os,sys;from cryptography.fernet import Fernet;sys.stdout.write(Fernet(os.environ["K"]).decrypt(os.environ["T"], ttl=60).decode("utf8"))',
        { K: key, T: token },
      );
      expect(out).toBe(plain);
    });

    it.skipIf(!hasPython)('a token made in Python opens here, and Python keys are accepted', () => {
      const out = py(
        'import os;from cryptography.fernet import Fernet;k=Fernet.generate_key();print(k.decode());print(Fernet(k).encrypt("from python: ✓".encode("utf8")).decode())',
        {},
      );
      const [key, token] = out.split('\n');
      expect(new Fernet(key!).decrypt(token!, { ttlSec: 60 }).toString('utf8')).toBe('from python: ✓');
    });

    it.skipIf(!hasPython)('a token rotated here opens in Python MultiFernet and the other way round', () => {
      const oldKey = Fernet.generateKey();
      const newKey = Fernet.generateKey();
      const rotated = new Fernet([newKey, oldKey]).rotate(new Fernet(oldKey).encrypt('rotated'));
      const out = py(
        [
          'import os;from cryptography.fernet import Fernet, MultiFernet',
          'print(Fernet(os.environ["N"]).decrypt(os.environ["R"]).decode())',
          'print(MultiFernet([Fernet(os.environ["N"]), Fernet(os.environ["O"])]).rotate(Fernet(os.environ["O"]).encrypt(b"py-rotated")).decode())',
        ].join('\n'),
        { N: newKey, O: oldKey, R: rotated },
      );
      const [opened, pyRotated] = out.split('\n');
      expect(opened).toBe('rotated');
      expect(new Fernet(newKey).decrypt(pyRotated!).toString()).toBe('py-rotated');
    });
  });
});
