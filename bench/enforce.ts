/**
 * Cost of enforce(): ns per call of an enforced function with a small object schema vs the same plain function,
 * and of an `off`-mode "enforced" function vs plain. Baselines are measured in the same run, rounds alternate
 * between the variants, and the median round is reported with the ratio.
 *
 *   npm run bench:enforce            (ROUNDS=21 CALLS=200000 to change the work)
 */
import { z } from 'zod';
import { enforce } from '../src/enforcer/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 21);
const CALLS = Number(process.env.CALLS ?? 200_000);

interface User {
  name: string;
  age: number;
}
const userSchema = z.object({ name: z.string().min(1), age: z.number().int().nonnegative() });

function plain(user: User, bonus: number): number {
  return user.age + bonus + user.name.length;
}

enforce.configure({ mode: 'strict' });
const strict = enforce({ description: 'Scores a user', args: [userSchema, z.number()], returns: z.number() }, plain);
enforce.configure({ mode: 'off' });
const off = enforce({ description: 'Scores a user', args: [userSchema, z.number()], returns: z.number() }, plain);
enforce.configure({ mode: 'strict' });
if (off !== plain) throw new Error('off mode must return the original function');
// The baseline for off mode is bound the same way a user binds it (`const f = ...`), so the two loops differ
// only in what enforce() returned.
const plainConst: typeof plain = [plain][0]!;

const users: User[] = Array.from({ length: 64 }, (_, i) => ({ name: `user${i}`, age: i }));
let sink = 0;

// What zod alone costs for the same checks: the floor under the enforced variant.
const bonusSchema = z.number();
const resultSchema = z.number();
function zodOnly(user: User, bonus: number): number {
  if (!userSchema.safeParse(user).success || !bonusSchema.safeParse(bonus).success) throw new Error('invalid');
  const r = plain(user, bonus);
  if (!resultSchema.safeParse(r).success) throw new Error('invalid');
  return r;
}

function elapsed(start: bigint, calls: number): number {
  return Number(process.hrtime.bigint() - start) / calls;
}

// One loop per variant, written out, so every call site keeps its own (monomorphic) type feedback.
function runPlain(calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += plain(users[i & 63]!, i & 7);
  return elapsed(start, calls);
}
function runStrict(calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += strict(users[i & 63]!, i & 7);
  return elapsed(start, calls);
}
function runZodOnly(calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += zodOnly(users[i & 63]!, i & 7);
  return elapsed(start, calls);
}
function runPlain2(calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += plainConst(users[i & 63]!, i & 7);
  return elapsed(start, calls);
}
function runOff(calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += off(users[i & 63]!, i & 7);
  return elapsed(start, calls);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const variants: Record<string, () => number> = {
  'plain (vs strict)': () => runPlain(CALLS),
  'enforced strict': () => runStrict(CALLS),
  'zod safeParse only': () => runZodOnly(CALLS),
  'plain (vs off)': () => runPlain2(CALLS * 10),
  'enforced off': () => runOff(CALLS * 10),
};
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
// Per-round ratios of neighbours (same round, run back to back) are robust against a shared, noisy machine.
const strictRatios: number[] = [];
const offRatios: number[] = [];

for (const fn of Object.values(variants)) fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const names = Object.keys(variants);
  if (r % 2 === 1) names.reverse();
  const t: Record<string, number> = {};
  for (const name of names) {
    t[name] = variants[name]!();
    samples[name]!.push(t[name]!);
  }
  strictRatios.push(t['enforced strict']! / t['plain (vs strict)']!);
  offRatios.push(t['enforced off']! / t['plain (vs off)']!);
}

const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const fmt = (n: number): string => n.toFixed(1).padStart(8);
console.log(
  `enforce() bench: ${ROUNDS} alternating rounds of ${CALLS} calls, median ns per call (node ${process.version})`,
);
for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(20)}${fmt(v)} ns`);
console.log(
  `  strict: +${(m['enforced strict']! - m['plain (vs strict)']!).toFixed(1)} ns/call over plain ` +
    `(median per-round ratio ${median(strictRatios).toFixed(1)}x); ` +
    `${(m['enforced strict']! - m['zod safeParse only']!).toFixed(1)} ns/call beyond zod's own safeParse calls`,
);
const sortedOff = [...offRatios].sort((x, y) => x - y);
console.log(
  `  off: median per-round ratio ${median(offRatios).toFixed(3)}x plain ` +
    `(middle half ${sortedOff[Math.floor(sortedOff.length / 4)]!.toFixed(2)}-${sortedOff[Math.floor((3 * sortedOff.length) / 4)]!.toFixed(2)}; ` +
    `same function object: ${String(off === plain)})`,
);
if (sink === -1) console.log('unreachable');
