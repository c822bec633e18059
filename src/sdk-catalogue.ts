/**
 * The version catalogue (`GET /api/v1/sdk/versions`) as both ends check it: the control plane refuses an entry
 * that breaks these rules in its options, and the remote client ignores one it receives.
 */

/** A version as the catalogue carries it: 1 to 32 letters, digits, dots, pluses or dashes. */
export const CATALOGUE_VERSION = /^[0-9A-Za-z.+-]{1,32}$/;

/** Longest accepted `changelog_url`, in characters. */
export const MAX_CHANGELOG_URL = 2048;

/** Whether `url` is an acceptable `changelog_url`: http(s), at most 2048 characters, no spaces or control characters. */
export function isChangelogUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > MAX_CHANGELOG_URL || !/^https?:\/\/\S+$/i.test(url)) return false;
  if (hasControlCharacter(url)) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Whether `s` holds a C0 or C1 control character, DEL, or a line or paragraph separator. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isControl(s.charCodeAt(i))) return true;
  return false;
}

/** C0 and C1 controls, DEL, U+2028 and U+2029: what could break a log line or a header. */
export function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** One catalogue entry after the checks. */
export interface CatalogueEntry {
  latest: string;
  minimumSupported: string | undefined;
  changelogUrl: string | undefined;
}

/**
 * Read one catalogue entry: `undefined` when `latest` or `minimum_supported` is not a version, or
 * `changelog_url` is present but not an acceptable URL (the whole entry is then ignored).
 */
export function readCatalogueEntry(entry: unknown): CatalogueEntry | undefined {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e.latest !== 'string' || !CATALOGUE_VERSION.test(e.latest)) return undefined;
  const min = e.minimum_supported;
  if (min !== undefined && min !== null && (typeof min !== 'string' || !CATALOGUE_VERSION.test(min))) return undefined;
  const url = e.changelog_url;
  if (url !== undefined && url !== null && !isChangelogUrl(url)) return undefined;
  return {
    latest: e.latest,
    minimumSupported: typeof min === 'string' ? min : undefined,
    changelogUrl: typeof url === 'string' ? url : undefined,
  };
}
