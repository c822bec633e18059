import { CodedError, type CodedErrorOptions, type ErrorTable } from '../../errors.js';

/** Errors of multipart uploads: code, status and title. */
export const UPLOAD_ERRORS = {
  /** A file, or all files together, passed the endpoint's `upload` size limit. */
  ERR_UPLOAD_TOO_LARGE: { status: 413, title: 'Upload too large' },
  /** More files (or form fields) than the endpoint's `upload` allows. */
  ERR_UPLOAD_TOO_MANY: { status: 413, title: 'Too many parts' },
  /** A file's declared type is not allowed, or its first bytes say it is something else. */
  ERR_UPLOAD_TYPE: { status: 415, title: 'File type not allowed' },
  /** The body is not `multipart/form-data`, or it is malformed. */
  ERR_UPLOAD_MALFORMED: { status: 400, title: 'Malformed upload' },
  /** An endpoint's `upload` option is invalid (the message names it). */
  ERR_UPLOAD_OPTIONS: { status: 500, title: 'Invalid upload option' },
} as const satisfies ErrorTable<string>;

/** Codes of multipart uploads. */
export type UploadErrorCode = keyof typeof UPLOAD_ERRORS;

/** A refused upload (size, count, type, malformed body) or an invalid `upload` option. */
export class UploadError extends CodedError<UploadErrorCode> {
  constructor(message: string, options: CodedErrorOptions<UploadErrorCode>) {
    super(message, options, UPLOAD_ERRORS);
  }
}
