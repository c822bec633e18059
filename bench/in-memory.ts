// BENCH_IN_MEMORY=1: a case driven inside its servers process, over in-memory connections instead of loopback
// sockets. Node's own HTTP server takes each connection (its parser, ServerResponse, keep-alive), so everything
// in user space runs as it does over a socket; what is left out is the kernel's part (the socket write and read,
// waking the client on the other core), which on loopback is most of a request's CPU and the same for every
// framework. The CPU per request then reads the framework's own cost, with the load generator's share (this
// driver's, a fraction of a µs) the same for every case, and far less noise than loopback on two shared cores.
import type { Server } from 'node:http';
import { Duplex } from 'node:stream';

/** One in-memory run, sent by the bench process (harness.ts) to the servers process. */
export interface InMemoryRun {
  /** The servers script's key of the server to drive. */
  server: string;
  /** Path and query of every request. */
  target: string;
  headers: Record<string, string>;
  /** How long to keep sending, in seconds. */
  seconds: number;
  /** Connections, each with one request in flight. @defaultValue 50 */
  connections?: number;
}

/** What a run answers: requests answered, those not 2xx, this process's CPU per request (µs) and the run's wall time (µs). */
export interface InMemoryResult {
  requests: number;
  non2xx: number;
  cpuUs: number;
  wallUs: number;
}

const STATUS_LINE = Buffer.from('HTTP/1.1 ');

/**
 * Send `run.target` on `run.connections` in-memory connections to `server`, one request in flight on each, for
 * `run.seconds`; resolves with the requests answered, those not 2xx, and this process's CPU per request (µs).
 */
export function driveInMemory(server: Server, run: InMemoryRun): Promise<InMemoryResult> {
  const head = Object.entries(run.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(`GET ${run.target} HTTP/1.1\r\nHost: bench\r\n${head}\r\n`, 'latin1');
  const connections = run.connections ?? 50;
  return new Promise((resolve) => {
    const sockets: Duplex[] = [];
    let requests = 0;
    let non2xx = 0;
    let open = connections;
    const deadline = performance.now() + run.seconds * 1000;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const finish = (): void => {
      const used = process.cpuUsage(cpu);
      const wallUs = (performance.now() - started) * 1000;
      for (const s of sockets) s.destroy();
      resolve({ requests, non2xx, cpuUs: (used.user + used.system) / Math.max(1, requests), wallUs });
    };
    // The next requests of the connections answered in one turn arrive together in the next turn, as a turn's
    // readable sockets do over loopback (never inside the write of the answer before them).
    let ready: Duplex[] = [];
    const sendNext = (): void => {
      const batch = ready;
      ready = [];
      for (const socket of batch) socket.push(request);
    };
    const answered = (socket: Duplex): void => {
      if (ready.push(socket) === 1) setImmediate(sendNext);
    };
    const closeOne = (): void => {
      if (--open === 0) setImmediate(finish);
    };
    for (let i = 0; i < connections; i++) {
      let closed = false;
      const socket: Duplex = new Duplex({
        read() {},
        // A response's head (and its body, when node writes them together) starts a chunk with its status line;
        // a body written apart is a chunk without one.
        write(chunk: Buffer, _encoding, written) {
          if (chunk.length >= 12 && chunk.subarray(0, STATUS_LINE.length).equals(STATUS_LINE)) {
            requests++;
            if (chunk[9] !== 0x32) non2xx++; // '2'
            if (performance.now() < deadline) answered(socket);
            else if (!closed) {
              closed = true;
              closeOne();
            }
          }
          written();
        },
      });
      // A connection the server ended (Connection: close) sends nothing more.
      socket.once('finish', () => {
        if (!closed) {
          closed = true;
          closeOne();
        }
      });
      // What node's server and the portal's per-address connection cap read from a socket.
      Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
      sockets.push(socket);
      server.emit('connection', socket);
      socket.push(request);
    }
  });
}
