// `node --import tsx examples/worker/producer.ts [count]`: pushes emails for the worker and exits. push() returns
// once the job is durable in the queue file, so the jobs wait there even when no worker runs yet.
import { createLogger } from '../../src/logger.js';
import { emailTasks } from './tasks.js';

const log = createLogger({ base: { service: 'email-producer' } });
const tasks = emailTasks(log);
const count = Number(process.argv[2] ?? 3);
for (let i = 1; i <= count; i++) {
  const id = tasks.push(
    'SEND_EMAIL',
    { to: `user${i}@example.com`, subject: `Hello #${i}` },
    { dedupeKey: `hello-${i}` },
  );
  log.info({ jobId: id }, 'queued');
}
log.info(tasks.stats(), 'queue now');
await tasks.stop(); // never started: closes the store; the process exits
