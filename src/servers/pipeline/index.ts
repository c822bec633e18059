export { compilePipeline, compileSyncFirst } from './compile.js';
export type { Pipeline, PipelineSpec, SyncFirstPipeline } from './compile.js';
export { compileCoercer } from './coerce.js';
export { validate, toFieldIssues } from './validate.js';
export type { Validation } from './validate.js';
export type { GateCall, GateStep, Identity, SchemaInput, SchemaLike, SchemaOutput, Transport } from './types.js';
export { FORBIDDEN_KEYS, parseJsonSafe, stripForbiddenKeys } from './forbidden-keys.js';
