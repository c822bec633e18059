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

const users: User[] = Array.from({ length: 64 }, (_, i) => ({ name: `user${i}`, age: i }));
let sink = 0;

function run(fn: (user: User, bonus: number) => number, calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += fn(users[i & 63]!, i & 7);
  return Number(process.hrtime.bigint() - start) / calls;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// Separate copies of the plain loop per comparison so each call site keeps its own type feedback.
const variants: Record<string, () => number> = {
  'plain (vs strict)': () => run(plain, CALLS),
  'enforced strict': () => run(strict, CALLS),
  'plain (vs off)': () => run((u, b) => plain(u, b), CALLS * 10),
  'enforced off': () => run((u, b) => off(u, b), CALLS * 10),
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
  `  off mode: ratio ${(m['enforced off']! / m['plain (vs off)']!).toFixed(3)}x plain ` +
    `(same function object: ${String(off === plain)})`,
);
if (sink === -1) console.log('unreachable');
