/**
 * The servers capability's names that tests and tools need but applications do not import (the public ones are in
 * `index.ts`, the root entry `gatehouse`).
 */
export { isEndpointDefinition, UNMATCHED_ROUTE } from './portal/index.js';
export { PORTAL_ERRORS } from './errors.js';
export { GATE_ERRORS } from './gates/index.js';
export { REALTIME_ERRORS } from './realtime/index.js';
export { STREAM_ERRORS } from './streams/index.js';
export { UPLOAD_ERRORS } from './uploads/index.js';
