export { UPLOAD_ERRORS, UploadError } from './errors.js';
export type { UploadErrorCode } from './errors.js';
export { resolveUploadConfig } from './options.js';
export type { ResolvedUploadConfig, UploadConfig } from './options.js';
export { removeUploadedFiles, uploadDir, uploadReceiver } from './receive.js';
export type { ReceivedUpload, UploadReceiver, UploadedFile } from './receive.js';
