import type { GateStep } from '../pipeline/index.js';
import { ForbiddenError } from './errors.js';

/** Compile the scope check: every listed scope is required; the 403 names the missing ones. */
export function scopesStep(required: readonly string[]): GateStep | undefined {
  if (required.length === 0) return undefined;
  const list = [...new Set(required)];
  return (call) => {
    const granted = call.identity?.scopes ?? [];
    let missing: string[] | undefined;
    for (const scope of list) {
      if (!granted.includes(scope)) (missing ??= []).push(scope);
    }
    if (missing)
      throw new ForbiddenError(`Missing required scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, {
        missing,
      });
  };
}
