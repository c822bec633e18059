/** The state of one check. */
export type CheckState = 'OK' | 'YELLOW' | 'RED';

/** What a check reports. */
export interface HealthCheckResult {
  /** OK, YELLOW (degraded) or RED (failing). */
  state: CheckState;
  /** Free text shown in the JSON status only. */
  detail?: string | undefined;
}

/** A JSON value a status field can hold. */
export type StatusValue =
  string | number | boolean | null | readonly StatusValue[] | { readonly [key: string]: StatusValue };
