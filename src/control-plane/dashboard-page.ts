/**
 * The dashboard page served at `/`: plain HTML and CSS (the script is `/dashboard.js`, so the portal's
 * Content-Security-Policy `script-src 'self'` holds). Kept as a string module: the build is tsc only.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse control plane</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --chip: #f6f8fa; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d; --accent: #58a6ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --chip: #161b22; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 12px 16px; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between; }
  h1 { font-size: 1.2rem; margin: 0; }
  h2 { font-size: 1.05rem; margin: 24px 0 8px; }
  main { padding: 0 16px 32px; max-width: 1200px; margin: 0 auto; }
  form { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 12px 0; }
  label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: 2px; }
  input, select, button { font: inherit; padding: 8px 10px; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); min-height: 44px; }
  button { cursor: pointer; background: var(--chip); }
  button:hover { border-color: var(--accent); }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .primary { background: var(--accent); color: #fff; border-color: var(--accent); }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; vertical-align: top; padding: 8px; border-bottom: 1px solid var(--line); }
  th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  tbody th { font-size: 1rem; text-transform: none; letter-spacing: normal; color: var(--fg); }
  .state { font-weight: 700; padding: 2px 8px; border-radius: 999px; border: 1px solid currentColor; display: inline-block; }
  .state-ACTIVE { color: var(--ok); } .state-PAUSED, .state-MAINTENANCE { color: var(--warn); } .state-OFFLINE, .state-FAILED { color: var(--bad); }
  .actions { display: flex; flex-wrap: wrap; gap: 6px; }
  .actions button { padding: 6px 8px; font-size: .85rem; }
  .actions button[aria-pressed="true"] { border-color: currentColor; font-weight: 700; }
  .muted { color: var(--muted); font-size: .85rem; }
  .inst { list-style: none; margin: 0; padding: 0; font-size: .85rem; }
  .inst li { padding: 2px 0; }
  .dot { display: inline-block; width: .6em; height: .6em; border-radius: 50%; margin-right: 4px; background: var(--ok); }
  .dot.stale { background: var(--warn); } .dot.gone { background: var(--muted); }
  .token { font-family: ui-monospace, monospace; word-break: break-all; background: var(--chip); padding: 8px; border-radius: 6px; border: 1px solid var(--line); }
  #notice { min-height: 1.5em; }
  .error { color: var(--bad); }
  [hidden] { display: none !important; }
  @media (max-width: 720px) {
    table, thead, tbody, tr, th, td { display: block; }
    thead { position: absolute; left: -9999px; }
    tr { border: 1px solid var(--line); border-radius: 8px; margin: 12px 0; padding: 4px 0; }
    td { border: 0; padding: 6px 12px; }
    td::before { content: attr(data-label); display: block; font-size: .75rem; text-transform: uppercase; color: var(--muted); }
  }
</style>
</head>
<body>
<header>
  <h1>gatehouse control plane</h1>
  <span id="connection" class="muted" role="status">signed out</span>
</header>
<main>
  <form id="login" aria-label="Sign in">
    <label for="admin-token">Admin token<input id="admin-token" name="token" type="password" autocomplete="current-password" required></label>
    <button type="submit" class="primary">Sign in</button>
    <button type="button" id="logout" hidden>Sign out</button>
  </form>
  <p id="notice" role="status" aria-live="polite"></p>
  <section id="app" hidden aria-label="Projects">
    <form id="change" aria-label="Status change options">
      <label for="message">Message (shown to clients while not ACTIVE)<input id="message" name="message" maxlength="1000" size="40"></label>
      <label for="retry">Retry after (seconds)<input id="retry" name="retry" type="number" min="0" max="604800" inputmode="numeric" size="8"></label>
    </form>
    <h2 id="projects-title">Projects</h2>
    <table aria-labelledby="projects-title">
      <thead><tr><th scope="col">Project</th><th scope="col">State</th><th scope="col">Fail mode</th><th scope="col">Messages</th><th scope="col">Instances</th><th scope="col">Set state</th></tr></thead>
      <tbody id="projects"></tbody>
    </table>
    <p id="empty" class="muted" hidden>No projects yet.</p>
    <h2>New project</h2>
    <form id="create" aria-label="New project">
      <label for="new-name">New project name<input id="new-name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}"></label>
      <label for="new-fail">Fail mode of the new project<select id="new-fail" name="failMode"><option value="closed">closed</option><option value="open">open</option></select></label>
      <button type="submit">Create project</button>
    </form>
    <div id="new-token" hidden><p>Token for <strong id="new-token-project"></strong> (shown once; store it now):</p><p class="token" id="new-token-value"></p></div>
    <h2 id="audit-title">Audit log</h2>
    <table aria-labelledby="audit-title">
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Project</th><th scope="col">Change</th><th scope="col">From</th><th scope="col">To</th></tr></thead>
      <tbody id="audit"></tbody>
    </table>
  </section>
</main>
<script src="/dashboard.js" defer></script>
</body>
</html>
`;
