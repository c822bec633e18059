import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServicePortal } from '../servers/index.js';

/**
 * The folder of the dashboard's files: `src/control-plane/dashboard/` beside this module, or, in the built package,
 * `dist/control-plane/dashboard/` (the build copies them there) seen from the chunk this code is bundled into: a
 * library chunk (`dist/chunks/`) or one of the CLI's (`dist/chunks/cli/`, a level deeper).
 */
function assetFolder(): URL {
  const candidates = ['./dashboard/', '../control-plane/dashboard/', '../../control-plane/dashboard/'].map(
    (relative) => new URL(relative, import.meta.url),
  );
  return candidates.find((folder) => existsSync(new URL('index.html', folder))) ?? candidates[1]!;
}

/**
 * Serve the dashboard: the page at `/`, its stylesheet and script as separate files (so the portal's
 * Content-Security-Policy `script-src 'self'` holds). The files are read once, when the control plane starts.
 */
export async function mountDashboard(portal: ServicePortal): Promise<void> {
  const folder = assetFolder();
  const [html, css, js] = await Promise.all([
    readFile(new URL('index.html', folder), 'utf8'),
    readFile(new URL('dashboard.css', folder), 'utf8'),
    readFile(new URL('dashboard.js', folder), 'utf8'),
  ]);
  portal.app.get('/', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  });
  portal.app.get('/dashboard.css', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/css').send(css);
  });
  portal.app.get('/dashboard.js', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/javascript').send(js);
  });
}
