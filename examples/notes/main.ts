// `npm start`: the notes service on PORT (default 3000), SQLite under ./data, nothing else to install.
// With REDIS_URL set it joins the `notes` fleet on that Redis (see the README's Fleet section).
import { createNotesApp } from './app.js';

const app = createNotesApp({
  dataDir: process.env.DATA_DIR ?? './data',
  secret: process.env.GATEHOUSE_SECRET,
  webhookUrl: process.env.NOTES_WEBHOOK_URL,
  mailRelayUrl: process.env.MAIL_RELAY_URL,
  redis: process.env.REDIS_URL || undefined,
});
// run() drains on SIGTERM/SIGINT: /ready drops to 503, in-flight requests finish, then the task buffer, the
// sockets and the database close (the buffer is registered with portal.onClose in app.ts).
await app.portal.run({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
app.portal.log.info(
  'try: curl -s localhost:%d/health; demo login: demo / demo-password (POST /api/login)',
  app.portal.port,
);
