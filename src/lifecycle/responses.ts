import type { HealthBoard, StatusFormat } from './health.js';
import { STATUS_CONTENT_TYPES, renderStatus } from './health.js';

/** A ready-made response for a built-in route: status, content type and body. */
export interface RawResponse {
  /** HTTP status. */
  status: number;
  /** Content-Type header. */
  contentType: string;
  /** Body text. */
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** `GET /health` (liveness): 200 while the process answers at all. */
export function healthResponse(): RawResponse {
  return { status: 200, contentType: JSON_TYPE, body: '{"status":"ok"}' };
}

/** `GET /ready`: 200 `{ ready: true }`, or a 503 problem listing why not (decommissioned, lifecycle, critical check). */
export async function readyResponse(board: HealthBoard, requestId: string): Promise<RawResponse> {
  const r = await board.readiness();
  if (r.ready)
    return { status: 200, contentType: JSON_TYPE, body: JSON.stringify({ ready: true, lifecycle: r.lifecycle }) };
  const body = {
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: `Not ready: ${r.reasons.join(', ')}`,
    code: 'ERR_NOT_READY',
    requestId,
    ready: false,
    lifecycle: r.lifecycle,
    reasons: r.reasons,
  };
  return { status: 503, contentType: PROBLEM_TYPE, body: JSON.stringify(body) };
}

/** `GET /status` in a format: always 200 (a RED check is reported, not raised). */
export async function statusResponse(board: HealthBoard, format: StatusFormat): Promise<RawResponse> {
  const report = await board.status();
  return { status: 200, contentType: STATUS_CONTENT_TYPES[format], body: renderStatus(report, format) };
}
