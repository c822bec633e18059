/**
 * `npm run bench:stream`: server-sent events and uploads, each against a baseline measured in the same run.
 *
 * 1. Fan-out: `portal.sendToGroup()` to 1,000 SSE streams (node:http readers, one socket each) beside
 *    `portal.sendToGroup()` to 1,000 socket.io-client sockets (websocket transport), on one portal in the same
 *    process. A round sends BURSTS bursts of BURST messages and waits for every delivery of a burst before the
 *    next; it reports deliveries/s and the p99 of send-to-receive latency (`performance.now()` in the payload).
 *    Rounds alternate streams/sockets. Target: SSE p99 < 500 ms.
 * 2. Uploads: a multipart upload of one UPLOAD_MIB MiB file to an endpoint with `upload` (busboy, temp file under
 *    dataDir, removed after the handler) vs a bare node:http server writing the same request body to a file with
 *    `stream.pipeline(req, fs.createWriteStream())`, the same client and bytes, rounds alternating.
 *    Target: gatehouse throughput >= 0.7x the baseline.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { ServicePortal, createLogger, z } from '../src/index.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 10);
const UPLOAD_MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 64);
const UPLOAD_ROUNDS = Number(process.env.BENCH_UPLOAD_ROUNDS ?? 9);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function percentile(values: Float64Array, count: number, p: number): number {
  const sorted = values.slice(0, count).sort();
  return sorted[Math.min(count - 1, Math.floor(count * p))] as number;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-stream-'));
const portal = new ServicePortal({
  dataDir: dir,
  requestLog: false,
  logger: createLogger({ level: 'warn' }),
  auth: { secret: 'bench-secret-that-is-long-enough-for-hs256-0123456789' },
  websocket: { transports: ['websocket'] },
  maxConnectionsPerIp: 0, // 2,000 clients from one address
  bodyTimeoutMs: 600_000,
  // The fan-out rounds saturate the loop on purpose; shedding would then refuse the upload rounds that follow.
  overload: false,
});
portal.stream('/feed', { description: 'Bench feed', input: z.object({}), heartbeatMs: 60_000 }, async ({ stream }) => {
  await stream.joinGroup('sse');
});
portal.endpoint(
  '/upload',
  { description: 'Bench upload', gate: { auth: 'none' }, upload: { maxFileBytes: '1gb' }, input: z.object({}) },
  ({ files }) => ({ size: files[0]?.size ?? 0 }),
);
await portal.run({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${portal.port}`;

// --- 1. fan-out --------------------------------------------------------------------------------------------
const latencies = new Float64Array(BURSTS * BURST * CLIENTS);
let received = 0;
let waiting: { target: number; resolve: () => void } | undefined;
function delivered(t: number): void {
  latencies[received++] = performance.now() - t;
  if (waiting && received >= waiting.target) {
    const w = waiting;
    waiting = undefined;
    w.resolve();
  }
}

const DATA = /\ndata: \{"t":([0-9.]+)/g;
const readers: http.ClientRequest[] = [];
const sockets: ClientSocket[] = [];
console.log(`opening ${CLIENTS} SSE streams and ${CLIENTS} sockets...`);
for (let i = 0; i < CLIENTS; i += 50) {
  const batch: Promise<void>[] = [];
  for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
    const token = await portal.tokens.issue({ sub: `u${j}`, ttl: '1h' });
    batch.push(
      new Promise((resolve, reject) => {
        const req = http.get(`${url}/feed`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            const end = buffer.lastIndexOf('\n\n');
            if (end === -1) return;
            const complete = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const m of complete.matchAll(DATA)) delivered(Number(m[1]));
          });
          resolve();
        });
        req.on('error', reject);
        readers.push(req);
      }),
    );
    const c = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    c.on('m', (p: { t: number }) => delivered(p.t));
    sockets.push(c);
    batch.push(
      new Promise((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('connect_error', reject);
      }),
    );
  }
  await Promise.all(batch);
}
for (let j = 0; j < CLIENTS; j++) await portal.joinGroup(`u${j}`, 'io');
await new Promise((r) => setTimeout(r, 200));
if (portal.streamCount !== CLIENTS) throw new Error(`expected ${CLIENTS} streams, found ${portal.streamCount}`);

interface FanoutResult {
  deliveriesPerSec: number;
  p99Ms: number;
}
async function fanout(group: 'sse' | 'io'): Promise<FanoutResult> {
  received = 0;
  const started = performance.now();
  for (let b = 0; b < BURSTS; b++) {
    const done = new Promise<void>((resolve) => {
      waiting = { target: (b + 1) * BURST * CLIENTS, resolve };
    });
    for (let i = 0; i < BURST; i++) await portal.sendToGroup(group, 'm', { t: performance.now() });
    await done;
  }
  const seconds = (performance.now() - started) / 1000;
  return { deliveriesPerSec: received / seconds, p99Ms: percentile(latencies, received, 0.99) };
}

console.log('warm-up...');
await fanout('sse');
await fanout('io');
const sse: FanoutResult[] = [];
const io: FanoutResult[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order: Array<'sse' | 'io'> = r % 2 === 0 ? ['sse', 'io'] : ['io', 'sse'];
  for (const side of order) (side === 'sse' ? sse : io).push(await fanout(side));
  const s = sse.at(-1)!;
  const o = io.at(-1)!;
  console.log(
    `round ${r + 1}: SSE ${Math.round(s.deliveriesPerSec)} deliveries/s p99 ${s.p99Ms.toFixed(1)} ms | sockets ${Math.round(o.deliveriesPerSec)} deliveries/s p99 ${o.p99Ms.toFixed(1)} ms`,
  );
}
for (const r of readers) r.destroy();
for (const c of sockets) c.disconnect();

// --- 2. uploads --------------------------------------------------------------------------------------------
const CHUNK = 64 * 1024;
const filler = Buffer.alloc(CHUNK, 7);
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const fileBytes = UPLOAD_MIB * 1024 * 1024;
const boundary = '----gatehousebench';
const head = Buffer.from(
  `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`,
);
const tail = Buffer.from(`\r\n--${boundary}--\r\n`);

/** POST the multipart body (chunk by chunk, with backpressure) and resolve with the seconds it took. */
function send(target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      target,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + fileBytes + tail.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((performance.now() - started) / 1000)
            : reject(new Error(`${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    const chunks = (function* () {
      yield head;
      yield png;
      let left = fileBytes - png.length;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        yield n === CHUNK ? filler : filler.subarray(0, n);
        left -= n;
      }
      yield tail;
    })();
    const pump = (): void => {
      for (let next = chunks.next(); !next.done; next = chunks.next())
        if (!req.write(next.value)) return void req.once('drain', pump);
      req.end();
    };
    pump();
  });
}

// The baseline: the least an upload costs on this machine, HTTP in and a file out, no multipart parsing.
const rawDir = path.join(dir, 'raw');
fs.mkdirSync(rawDir);
let n = 0;
const baseline = http.createServer((req, res) => {
  const file = path.join(rawDir, String(n++));
  pipeline(req, fs.createWriteStream(file)).then(
    () => {
      fs.rmSync(file);
      res.end('{}');
    },
    () => res.destroy(),
  );
});
await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
const baselineUrl = `http://127.0.0.1:${(baseline.address() as { port: number }).port}/`;

await send(`${url}/upload`);
await send(baselineUrl);
const ghRates: number[] = [];
const rawRates: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < UPLOAD_ROUNDS; r++) {
  const first = r % 2 === 0;
  const a = await send(first ? `${url}/upload` : baselineUrl);
  const b = await send(first ? baselineUrl : `${url}/upload`);
  const [gh, raw] = first ? [a, b] : [b, a];
  ghRates.push(UPLOAD_MIB / gh);
  rawRates.push(UPLOAD_MIB / raw);
  ratios.push(raw / gh);
  console.log(
    `upload round ${r + 1}: gatehouse ${(UPLOAD_MIB / gh).toFixed(0)} MiB/s | pipeline ${(UPLOAD_MIB / raw).toFixed(0)} MiB/s`,
  );
}
await new Promise((resolve) => baseline.close(resolve));

const fmt = (xs: FanoutResult[]): string =>
  `${Math.round(median(xs.map((x) => x.deliveriesPerSec)))} deliveries/s, p99 ${median(xs.map((x) => x.p99Ms)).toFixed(1)} ms`;
console.log(`\nfan-out to ${CLIENTS} each, ${BURSTS}x${BURST} messages per round, ${ROUNDS} rounds (medians)`);
console.log(`sendToGroup to SSE streams : ${fmt(sse)}  (target p99 < 500 ms)`);
console.log(`sendToGroup to sockets     : ${fmt(io)}`);
console.log(`\nupload of one ${UPLOAD_MIB} MiB file, ${UPLOAD_ROUNDS} paired rounds (medians)`);
console.log(`endpoint with upload (busboy, temp file) : ${median(ghRates).toFixed(0)} MiB/s`);
console.log(`node:http + stream.pipeline to a file    : ${median(rawRates).toFixed(0)} MiB/s`);
console.log(`ratio (gatehouse/pipeline, median paired): ${median(ratios).toFixed(3)}  (target >= 0.7)`);
const leftovers = fs.existsSync(path.join(dir, 'tmp-uploads')) ? fs.readdirSync(path.join(dir, 'tmp-uploads')) : [];
if (leftovers.length > 0) throw new Error(`temp files left: ${leftovers.join(', ')}`);

await portal.close({ timeoutMs: 2000 });
fs.rmSync(dir, { recursive: true, force: true });
