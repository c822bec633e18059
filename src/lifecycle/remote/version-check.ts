import type { Logger } from '../../logger.js';
import { readCatalogueEntry } from '../../sdk-catalogue.js';
import { gatehouseVersion } from '../../version.js';

/** What the version catalogue said, when this gatehouse is older than its latest. */
export interface RemoteUpdateInfo {
  /** This gatehouse's version. */
  current: string;
  /** The catalogue's latest version. */
  latest: string;
  /** The catalogue's minimum supported version, if given. */
  minimumSupported: string | undefined;
  /** Where the changes are described, if given. */
  changelogUrl: string | undefined;
  /** Whether `current` is below `minimumSupported`. */
  unsupported: boolean;
}

/**
 * Read the version catalogue's answer (`GET /api/v1/sdk/versions`) for this gatehouse: the update to report when it
 * lists a newer version (logged at warn), else `undefined` (a missing or invalid entry is logged at debug).
 */
export function updateFromCatalogue(value: unknown, log: Logger): RemoteUpdateInfo | undefined {
  const catalogue = value as Record<string, unknown> | null;
  // A gatehouse control plane may list gatehouse itself; a stock one lists the Node SDK.
  const raw = catalogue && typeof catalogue === 'object' ? (catalogue.gatehouse ?? catalogue.node) : undefined;
  if (raw === undefined || raw === null) {
    log.debug('remote control: version catalogue has no entry for node');
    return undefined;
  }
  // Checked as the control plane checks its own catalogue: an entry that breaks a rule is ignored whole.
  const entry = readCatalogueEntry(raw);
  if (!entry) {
    log.debug('remote control: version catalogue entry is invalid; ignored');
    return undefined;
  }
  const current = gatehouseVersion();
  const { latest, minimumSupported, changelogUrl } = entry;
  if (compareVersions(current, latest) >= 0) return undefined;
  const unsupported = minimumSupported !== undefined && compareVersions(current, minimumSupported) < 0;
  log.warn(
    { current, latest, minimumSupported, changelogUrl },
    unsupported
      ? `remote control: gatehouse ${current} is below the minimum supported ${minimumSupported ?? ''}; please upgrade`
      : `remote control: gatehouse ${current} is older than the latest ${latest}`,
  );
  return { current, latest, minimumSupported, changelogUrl, unsupported };
}

/** Compare dotted versions numerically (`0.1.10` > `0.1.9`); a pre-release tag sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): { nums: number[]; pre: boolean } => {
    const [core = '', pre] = v.trim().replace(/^v/, '').split('-', 2);
    return { nums: core.split('.').map((p) => Number.parseInt(p, 10) || 0), pre: pre !== undefined };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (x.pre !== y.pre) return x.pre ? -1 : 1;
  return 0;
}
