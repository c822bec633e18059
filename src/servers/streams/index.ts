export { STREAM_ERRORS, StreamError } from './errors.js';
export type { StreamErrorCode } from './errors.js';
export { SseStream } from './sse-stream.js';
export { StreamHub } from './hub.js';
export { adapterFanout, streamOnlyServer } from './fanout.js';
export { compileStream } from './route.js';
export type { StreamConfig, StreamContext, StreamHandler } from './options.js';
