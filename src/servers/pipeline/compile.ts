import type { ZodType } from 'zod';
import { ValidationError, type FieldIssue } from '../../errors.js';
import { OutputValidationError } from '../errors.js';
import type { GateCall, GateStep } from './types.js';
import { compileSerializer, type Serializer } from './serialize.js';
import { validate } from './validate.js';

/** What a transport hands to {@link compilePipeline} for one endpoint or event. */
export interface PipelineSpec {
  /** Checks that run before any input is read: lifecycle, auth, scopes, rate limits. */
  guards: readonly GateStep[];
  /** Transport step that fills `call.payload` (HTTP: read the body and merge params/query). */
  load?: GateStep;
  /** Steps that rewrite the payload before validation (token unmasking). */
  inbound?: readonly GateStep[];
  /** Input schema; without one the payload is passed through as the input. */
  input?: ZodType;
  /** Transport step that runs the handler; what it returns (or resolves to) becomes `call.result`. */
  invoke?: (call: GateCall) => unknown;
  /** Steps that rewrite the result after output validation (token masking: the schema sees raw ids, scopes come only from the validated result). */
  outbound?: readonly GateStep[];
  /** Output schema, checked before anything is sent. */
  output?: ZodType;
  /**
   * Check the output and write its JSON in one pass where the schema allows (`call.serialized`), instead of
   * validating a copy and stringifying it. Only without `outbound` steps (they rewrite the result).
   */
  serializeOutput?: boolean;
  /** Told when the handler's result does not match `output` (the response is a generic 500). */
  onOutputMismatch?: (call: GateCall, issues: FieldIssue[]) => void;
}

/** A compiled pipeline: run it on a call; it resolves when the result is ready or rejects with the gate's error. */
export type Pipeline = (call: GateCall) => Promise<void>;

/**
 * A compiled pipeline that settles without a promise when every step did: it returns `undefined` once the result
 * is ready, throws the gate's error, or returns a promise from the first asynchronous step on.
 */
export type SyncFirstPipeline = (call: GateCall) => void | Promise<void>;

function inputStep(schema: ZodType): GateStep {
  const apply = (call: GateCall, r: ReturnType<typeof validate> extends infer V ? Awaited<V> : never): void => {
    if (!r.ok) throw new ValidationError('The request input is invalid', { errors: r.issues });
    call.input = r.value;
  };
  return (call) => {
    const r = validate(schema, call.payload);
    if (r instanceof Promise) return r.then((v) => apply(call, v));
    apply(call, r);
  };
}

function outputStep(schema: ZodType, onMismatch: PipelineSpec['onOutputMismatch']): GateStep {
  const apply = (call: GateCall, r: Awaited<ReturnType<typeof validate>>): void => {
    if (!r.ok) {
      onMismatch?.(call, r.issues);
      throw new OutputValidationError('The handler returned a result that does not match its output schema', {
        issues: r.issues,
      });
    }
    // The parsed value drops keys the schema does not declare, so extra fields never leak.
    call.result = r.value;
    call.resultValidated = true;
  };
  return (call) => {
    const r = validate(schema, call.result);
    if (r instanceof Promise) return r.then((v) => apply(call, v));
    apply(call, r);
  };
}

/** The output check and the JSON text in one pass; anything the serializer does not accept goes through zod. */
function serializeStep(slow: GateStep, serialize: Serializer): GateStep {
  return (call) => {
    let body: string | undefined;
    try {
      body = serialize(call.result);
    } catch {
      body = undefined; // e.g. a getter that throws: zod reports it
    }
    if (body === undefined) return slow(call);
    call.serialized = body;
    call.resultValidated = true;
  };
}

/** Run the handler and keep its result, awaiting only when it returned a promise. */
function resultStep(invoke: (call: GateCall) => unknown): GateStep {
  return (call) => {
    const r = invoke(call);
    if (r instanceof Promise) {
      return r.then((v: unknown) => {
        call.result = v;
      });
    }
    call.result = r;
  };
}

const passPayload: GateStep = (call) => {
  call.input = call.payload;
};

/**
 * Compile the steps of one endpoint or event once, at registration, into a flat list, so a call runs only the
 * steps its route configured and awaits only the steps that are actually asynchronous. A call whose steps all
 * return synchronously allocates no promise at all.
 */
export function compileSyncFirst(spec: PipelineSpec): SyncFirstPipeline {
  const steps: GateStep[] = [...spec.guards];
  if (spec.load) steps.push(spec.load);
  if (spec.inbound) steps.push(...spec.inbound);
  steps.push(spec.input ? inputStep(spec.input) : passPayload);
  if (spec.invoke) steps.push(resultStep(spec.invoke));
  if (spec.invoke && spec.output) {
    const check = outputStep(spec.output, spec.onOutputMismatch);
    const serialize = spec.serializeOutput && !spec.outbound?.length ? compileSerializer(spec.output) : undefined;
    steps.push(serialize ? serializeStep(check, serialize) : check);
  }
  if (spec.invoke && spec.outbound) steps.push(...spec.outbound);
  const list = Object.freeze(steps);
  const count = list.length;
  // The rest of the steps once one of them went asynchronous.
  const finish = async (call: GateCall, pending: Promise<void>, next: number): Promise<void> => {
    await pending;
    for (let i = next; i < count; i++) {
      const r = list[i]!(call);
      if (r !== undefined) await r;
    }
  };
  return (call) => {
    for (let i = 0; i < count; i++) {
      const r = list[i]!(call);
      if (r !== undefined) return finish(call, r, i + 1);
    }
  };
}

/** {@link compileSyncFirst} for callers that want a promise every time. */
export function compilePipeline(spec: PipelineSpec): Pipeline {
  const run = compileSyncFirst(spec);
  return (call) => {
    try {
      return run(call) ?? SETTLED;
    } catch (err) {
      // Whatever was thrown, as an async function would reject with it (a handler may throw a non-Error).
      return Promise.reject(err);
    }
  };
}

/** What a pipeline whose steps were all synchronous returns: one shared settled promise, nothing allocated. */
const SETTLED: Promise<void> = Promise.resolve();
