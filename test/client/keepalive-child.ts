// Child process for keepalive.test.ts: one sendRequest through the module default client, no close().
// The process must exit on its own right after, even though the pooled socket stays open.
import { sendRequest } from '../../src/client/index.js';

const res = await sendRequest({ endpoint: process.argv[2] ?? '', silent: true });
process.stdout.write(`${JSON.stringify({ ok: res.ok, status: res.status })}\n`);
