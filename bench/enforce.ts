/**
 * Cost of enforce(): ns per call of an enforced function with a small object schema vs the same plain function,
 * and of an `off`-mode "enforced" function vs plain. Baselines are measured in the same run, rounds alternate
 * between the variants, and the median round is reported with the ratio.
 *
 *   npm run bench:enforce            (ROUNDS=15 CALLS=200000 to change the work)
 */
import { z } from 'zod';
import { enforce } from '../src/enforcer/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
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

for (const fn of Object.values(variants)) fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const names = Object.keys(variants);
  if (r % 2 === 1) names.reverse();
  for (const name of names) samples[name]!.push(variants[name]!());
}

const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const fmt = (n: number): string => n.toFixed(1).padStart(8);
console.log(`enforce() bench: ${ROUNDS} alternating rounds, median ns per call (node ${process.version})`);
for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(20)}${fmt(v)} ns`);
console.log(
  `  strict overhead: +${(m['enforced strict']! - m['plain (vs strict)']!).toFixed(1)} ns/call, ` +
    `ratio ${(m['enforced strict']! / m['plain (vs strict)']!).toFixed(1)}x plain`,
);
console.log(
  `  wrapper cost beyond zod's own safeParse: ${(m['enforced strict']! - m['zod safeParse only']!).toFixed(1)} ns/call`,
);
console.log(
  `  off mode: ratio ${(m['enforced off']! / m['plain (vs off)']!).toFixed(3)}x plain ` +
    `(same function object: ${String(off === plain)})`,
);
if (sink === -1) console.log('unreachable');
