// `node --import tsx examples/worker/worker.ts`: a dedicated worker process. It only starts the buffer; the
// started buffer keeps the process alive and takes every job another process pushes. SIGTERM or SIGINT (Ctrl-C)
// stops taking jobs, lets the running ones finish (up to 10 s), then exits 0.
import { runWorker } from '../../src/buffers/index.js';
import { createLogger } from '../../src/logger.js';
import { emailTasks } from './tasks.js';

const log = createLogger({ base: { service: 'email-worker' } });
const tasks = emailTasks(log, { handlerMs: Number(process.env.HANDLER_MS ?? 200) });
tasks.on('dead', (job, error) => log.error({ jobId: job.id, err: error }, 'email gave up after its last attempt'));
runWorker(tasks, { timeoutMs: 10_000, logger: log });
