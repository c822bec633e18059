import { readFile } from 'node:fs/promises';
import type { ServicePortal } from '../servers/index.js';

/** The dashboard's files, beside this module in src and in dist (the build copies them). */
const ASSETS = {
  html: new URL('./dashboard/index.html', import.meta.url),
  css: new URL('./dashboard/dashboard.css', import.meta.url),
  js: new URL('./dashboard/dashboard.js', import.meta.url),
};

/**
 * Serve the dashboard: the page at `/`, its stylesheet and script as separate files (so the portal's
 * Content-Security-Policy `script-src 'self'` holds). The files are read once, when the control plane starts.
 */
export async function mountDashboard(portal: ServicePortal): Promise<void> {
  const [html, css, js] = await Promise.all([
    readFile(ASSETS.html, 'utf8'),
    readFile(ASSETS.css, 'utf8'),
    readFile(ASSETS.js, 'utf8'),
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
