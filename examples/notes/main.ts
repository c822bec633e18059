// `npm start`: the notes service on PORT (default 3000), SQLite under ./data, nothing else to install.
import { createNotesApp } from './app.js';

const app = createNotesApp({
  dataDir: process.env.DATA_DIR ?? './data',
  secret: process.env.GATEHOUSE_SECRET,
  webhookUrl: process.env.NOTES_WEBHOOK_URL,
  mailRelayUrl: process.env.MAIL_RELAY_URL,
});
await app.portal.run({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
app.portal.log.info('try: curl -s localhost:%d/health; demo login: demo / demo-password (POST /api/login)', app.portal.port);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void app.close().then(() => process.exit(0));
  });
}
