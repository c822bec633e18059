import { z } from 'zod';
import { LIFECYCLE_STATES, MAX_MESSAGE_LENGTH, MAX_RETRY_AFTER_SEC } from './states.js';

/** Input of `POST /admin/lifecycle`: an unknown state or a negative Retry-After is a 400 and changes nothing. */
export const lifecycleUpdateSchema = z.strictObject({
  state: z.enum(LIFECYCLE_STATES),
  message: z.string().max(MAX_MESSAGE_LENGTH).optional(),
  retryAfterSec: z.number().int().min(0).max(MAX_RETRY_AFTER_SEC).optional(),
});

/** A validated lifecycle change from the admin endpoint. */
export type LifecycleUpdate = z.output<typeof lifecycleUpdateSchema>;

/** Input of `GET /admin/lifecycle`: no parameters (unknown query keys are a 400). */
export const lifecycleReadSchema = z.strictObject({});
