// The task types shared by the producer and the worker: one place says what a job looks like.
// The queue entry only (gatehouse/queue): a worker loads no portal, express or Redis client.
import { z } from 'zod';
import { TaskBuffer, defineTask } from '../../src/buffers/index.js';
import type { Logger } from '../../src/logger.js';

/** Both processes open the same queue file under DATA_DIR (default ./data). */
export const dataDir = process.env.DATA_DIR ?? './data';

/**
 * The `emails` task buffer. The producer only pushes (it never calls start(), so it runs no jobs); the worker
 * starts it through runWorker.
 */
export function emailTasks(log: Logger, options: { handlerMs?: number } = {}) {
  return new TaskBuffer({
    dataDir,
    queue: 'emails',
    workers: 2,
    maxAttempts: 3,
    logger: log,
    handlers: {
      SEND_EMAIL: defineTask({
        description: 'Sends one email (here: waits a little and logs it)',
        input: z.object({ to: z.string().email(), subject: z.string().min(1) }),
        handle: async (data, job) => {
          // A real mailer takes job.signal, so a stop that runs out of time aborts the send.
          await new Promise((resolve) => setTimeout(resolve, options.handlerMs ?? 200));
          log.info({ jobId: job.id, to: data.to, subject: data.subject }, 'email sent');
        },
      }),
    },
  });
}
