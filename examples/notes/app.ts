// The notes service: the example `npm start` runs. It shows every gatehouse capability in one small app:
// gated endpoints (login with a masked user id, logout that revokes, per-user notes, an admin scope, a
// rate-limited search), SQLite storage through Database, background work through TaskBuffer (a digest email
// with retries and a visible dead-letter list, a webhook through sendRequest), a live feed of new notes over
// server-sent events, attachments uploaded to disk, and the express fallback.
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Database,
  HttpError,
  ServicePortal,
  TaskBuffer,
  UnrecoverableError,
  defineTask,
  sendRequest,
  z,
  type PortalOptions,
} from '../../src/index.js';

/** Options of the example app (all optional; `main.ts` reads them from the environment). */
export interface NotesAppOptions {
  /** Where SQLite files live. @defaultValue './data' */
  dataDir?: string;
  /** Token secret; without one gatehouse generates and stores one in dataDir. */
  secret?: string;
  /** Where new notes are POSTed (a webhook); none: no webhook. */
  webhookUrl?: string;
  /** Where digest emails are POSTed (an email relay); none: they are written to the outbox table. */
  mailRelayUrl?: string;
  /**
   * Join a fleet on this Redis (`REDIS_URL`): instances named `notes` share rate limits, revocations, the
   * lifecycle and socket delivery. Notes themselves stay in each instance's SQLite file. @defaultValue none
   */
  redis?: string;
  /** Extra portal options (tests pass `requestLog: false`). */
  portal?: PortalOptions;
}

/** The running pieces, for `main.ts` and tests. */
export interface NotesApp {
  portal: ServicePortal;
  db: Database;
  tasks: TaskBuffer;
  close(): Promise<void>;
}

const TABLES = {
  users:
    'id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, email TEXT NOT NULL, scopes JSON NOT NULL',
  notes: 'id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, text TEXT NOT NULL, tags JSON, created_at INTEGER NOT NULL',
  outbox:
    'id INTEGER PRIMARY KEY, to_address TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL',
  attachments:
    'id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL, file TEXT NOT NULL',
};

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`;
}

function checkPassword(password: string, stored: string): boolean {
  const [salt, hash] = stored.split(':');
  if (!salt || !hash) return false;
  return timingSafeEqual(scryptSync(password, Buffer.from(salt, 'hex'), 32), Buffer.from(hash, 'hex'));
}

/** Demo accounts created on first start. */
export const DEMO_USERS = [
  { username: 'demo', password: 'demo-password', email: 'demo@example.com', scopes: ['notes:read', 'notes:write'] },
  {
    username: 'admin',
    password: 'admin-password',
    email: 'admin@example.com',
    scopes: ['notes:read', 'notes:write', 'notes:admin', 'lifecycle:admin'],
  },
];

const Note = z.object({
  id: z.number(),
  text: z.string(),
  tags: z.array(z.string()).nullable(),
  createdAt: z.number(),
});
type NoteRow = { id: number; user_id: string; text: string; tags: string[] | null; created_at: number };
const toNote = (row: NoteRow): z.infer<typeof Note> => ({
  id: row.id,
  text: row.text,
  tags: row.tags,
  createdAt: row.created_at,
});

/** Build the notes service (not listening yet: call `app.portal.run()`). */
export function createNotesApp(options: NotesAppOptions = {}): NotesApp {
  const dataDir = options.dataDir ?? './data';
  const portal = new ServicePortal({
    name: 'notes',
    dataDir,
    auth: { secret: options.secret, accessTtl: '1h' },
    websocket: true,
    // Alone, the state lives in dataDir: `npx gatehouse lifecycle set MAINTENANCE --data-dir ./data` flips every
    // process on the host. In a fleet it lives in Redis: `... --redis $REDIS_URL --name notes` flips every instance.
    ...(options.redis ? { redis: options.redis } : { lifecycle: { source: 'sqlite' as const } }),
    ...options.portal,
  });
  // Every component logs through the portal's logger (a child of the one root logger): `service: "notes"` on
  // every line, each component under its own `component` key.
  const db = new Database({ path: join(dataDir, 'notes.db'), tables: TABLES, logger: portal.log });
  for (const u of DEMO_USERS) {
    if (!db.fetchOne('users', { where: { username: u.username } })) {
      db.insert('users', {
        username: u.username,
        password_hash: hashPassword(u.password),
        email: u.email,
        scopes: u.scopes,
      });
    }
  }

  // Health: /ready turns 503 when the database stops answering; /status shows the version.
  portal.addCheck('database', () => (db.queryOne('SELECT 1 AS ok')?.ok === 1 ? 'OK' : 'RED'), {
    critical: true,
    timeoutMs: 1000,
  });
  portal.addStatusField('version', process.env.npm_package_version ?? '0.1.0');
  portal.onClose(() => db.close());

  const tasks = new TaskBuffer({
    dataDir,
    lifecycle: portal.lifecycle, // workers pause while the service is not ACTIVE
    workers: 2,
    maxAttempts: 4,
    backoff: { type: 'exponential', delayMs: 500, maxDelayMs: 10_000, jitter: true },
    logger: portal.log,
    handlers: {
      SEND_DIGEST: defineTask({
        description: 'Email a user their notes; an address the relay cannot take is not worth retrying',
        input: z.object({ userId: z.string().min(1) }),
        handle: async (data, job) => {
          const user = db.fetchOne<{ email: string }>('users', {
            columns: ['email'],
            where: { id: Number(data.userId) },
          });
          if (!user) throw new UnrecoverableError(`user ${data.userId} does not exist`);
          if (!user.email.includes('@')) throw new UnrecoverableError(`cannot mail ${user.email}`);
          const notes = db.fetch<NoteRow>('notes', { where: { user_id: data.userId }, orderBy: 'id' });
          const body = notes.map((n) => `- ${n.text}`).join('\n') || '(no notes yet)';
          if (!options.mailRelayUrl) {
            db.insert('outbox', { to_address: user.email, subject: 'Your notes digest', body, sent_at: Date.now() });
            return;
          }
          const res = await sendRequest({
            method: 'POST',
            endpoint: options.mailRelayUrl,
            body: { to: user.email, subject: 'Your notes digest', body },
            idempotencyKey: `digest-${job.id}`,
            signal: job.signal,
            silent: true,
          });
          if (!res.ok) throw new Error(`mail relay: ${res.error?.code ?? 'HTTP_ERROR'} ${res.error?.message ?? ''}`);
        },
      }),
      NOTE_WEBHOOK: defineTask({
        description: 'Tell an external system about a new note; retried with backoff, deduplicated per note',
        input: z.object({ noteId: z.number().int().positive(), userId: z.string().min(1) }),
        handle: async (data, job) => {
          if (!options.webhookUrl) return;
          const res = await sendRequest({
            method: 'POST',
            endpoint: options.webhookUrl,
            body: data,
            idempotencyKey: `note-${data.noteId}`,
            signal: job.signal,
            silent: true,
          });
          if (res.error?.code === 'BAD_REQUEST') throw new UnrecoverableError(res.error.message);
          if (!res.ok) throw new Error(`webhook: ${res.error?.code ?? 'HTTP_ERROR'}`);
        },
      }),
    },
  });

  // --- auth: login returns a masked user id that is itself the access token; logout revokes it ---
  portal.endpoint(
    '/api/login',
    {
      description: 'Log in; the returned userId is a masked id that doubles as the bearer token',
      tags: ['auth'],
      gate: { auth: 'none', payloadAuthTokenKey: 'userId', rateLimit: { by: 'ip', points: 10, windowSec: 60 } },
      input: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
      output: z.object({ userId: z.string(), scopes: z.array(z.string()) }),
    },
    ({ input }) => {
      const user = db.fetchOne<{ id: number; password_hash: string; scopes: string[] }>('users', {
        where: { username: input.username },
      });
      if (!user || !checkPassword(input.password, user.password_hash))
        throw new HttpError(401, 'Wrong username or password', { code: 'BAD_CREDENTIALS' });
      return { userId: String(user.id), scopes: user.scopes };
    },
  );

  portal.endpoint(
    '/api/logout',
    { description: 'Revoke the token used for this request', tags: ['auth'], input: z.object({}) },
    async ({ token }) => {
      if (token) await portal.revokeToken(token);
    },
  );

  // --- per-user notes ---
  portal.endpoint(
    '/api/notes',
    {
      description: 'Create a note',
      tags: ['notes'],
      gate: { scopes: ['notes:write'], rateLimit: { by: 'user', points: 60, windowSec: 60 } },
      input: z.object({ text: z.string().min(1).max(2000), tags: z.array(z.string().max(32)).max(10).optional() }),
      output: Note,
    },
    ({ input, identity, setStatus }) => {
      const userId = identity!.id;
      const createdAt = Date.now();
      const { lastInsertRowid } = db.insert('notes', {
        user_id: userId,
        text: input.text,
        tags: input.tags ?? null,
        created_at: createdAt,
      });
      const id = Number(lastInsertRowid);
      tasks.push('NOTE_WEBHOOK', { noteId: id, userId }, { dedupeKey: `note-${id}` });
      const note = { id, text: input.text, tags: input.tags ?? null, createdAt };
      void portal.sendToUser(userId, 'note_created', note); // every open tab of this user
      setStatus(201);
      return note;
    },
  );

  portal.endpoint(
    '/api/notes',
    {
      method: 'GET',
      description: "List the caller's notes",
      tags: ['notes'],
      gate: { scopes: ['notes:read'] },
      input: z.object({
        limit: z.number().int().min(1).max(100).default(20),
        offset: z.number().int().min(0).default(0),
      }),
      output: z.array(Note),
    },
    ({ input, identity }) =>
      db
        .fetch<NoteRow>('notes', {
          where: { user_id: identity!.id },
          orderBy: 'id DESC',
          limit: input.limit,
          offset: input.offset,
        })
        .map(toNote),
  );

  portal.endpoint(
    '/api/notes/search',
    {
      method: 'GET',
      description: "Search the caller's notes (rate limited)",
      tags: ['notes'],
      gate: {
        scopes: ['notes:read'],
        rateLimit: [
          { by: 'user', points: 10, windowSec: 10 },
          { by: 'ip', points: 100, windowSec: 60 },
        ],
      },
      input: z.object({ q: z.string().min(1).max(100) }),
      output: z.array(Note),
    },
    ({ input, identity }) => {
      const pattern = `%${input.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      return db
        .fetch<NoteRow>('notes', {
          where: ["user_id = ? AND text LIKE ? ESCAPE '\\'", identity!.id, pattern],
          orderBy: 'id DESC',
          limit: 50,
        })
        .map(toNote);
    },
  );

  portal.endpoint(
    '/api/notes/:id',
    {
      method: 'GET',
      description: 'Read one note',
      tags: ['notes'],
      gate: { scopes: ['notes:read'] },
      input: z.object({ id: z.number().int().positive() }),
      output: Note,
    },
    ({ input, identity }) => {
      const row = db.fetchOne<NoteRow>('notes', { where: { id: input.id, user_id: identity!.id } });
      if (!row) throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
      return toNote(row);
    },
  );

  portal.endpoint(
    '/api/notes/:id',
    {
      method: 'DELETE',
      description: 'Delete one note',
      tags: ['notes'],
      gate: { scopes: ['notes:write'] },
      input: z.object({ id: z.number().int().positive() }),
    },
    ({ input, identity }) => {
      if (db.delete('notes', { id: input.id, user_id: identity!.id }).changes === 0)
        throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
      void portal.sendToUser(identity!.id, 'note_deleted', { id: input.id });
    },
  );

  // --- a live feed: `note_created` / `note_deleted` (sent with sendToUser above) reach the user's event streams
  // as well as their sockets; a browser reads it with `new EventSource('/api/notes/feed?access_token=...')` ---
  portal.stream(
    '/api/notes/feed',
    {
      description: 'A live feed of your new and deleted notes (server-sent events)',
      tags: ['notes'],
      gate: { scopes: ['notes:read'] },
      input: z.object({}),
    },
    ({ stream, resumed, identity }) => {
      // A reconnect (Last-Event-ID) gets what it missed instead.
      if (!resumed) stream.send('ready', { notes: db.count('notes', { user_id: identity!.id }) });
    },
  );

  // --- attachments: multipart uploads streamed to temp files, kept by moving them under dataDir ---
  const attachmentsDir = join(dataDir, 'attachments');
  portal.endpoint(
    '/api/notes/:id/attachments',
    {
      description: 'Attach files to one of your notes (multipart/form-data)',
      tags: ['notes'],
      gate: { scopes: ['notes:write'] },
      upload: { maxFileBytes: '5mb', maxFiles: 3, types: ['image/png', 'image/jpeg', 'application/pdf', 'text/plain'] },
      input: z.object({ id: z.number().int().positive() }),
      output: z.array(z.object({ id: z.number(), name: z.string(), type: z.string(), size: z.number() })),
      status: 201,
    },
    async ({ input, identity, files }) => {
      if (!db.fetchOne('notes', { where: { id: input.id, user_id: identity!.id } }))
        throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' }); // the temp files go with the answer
      if (files.length === 0) throw new HttpError(400, 'Send at least one file', { code: 'NO_FILES' });
      await mkdir(attachmentsDir, { recursive: true });
      const saved = [];
      for (const f of files) {
        const file = join(attachmentsDir, randomUUID());
        await rename(f.path, file); // moved: gatehouse leaves it alone
        const { lastInsertRowid } = db.insert('attachments', {
          note_id: input.id,
          user_id: identity!.id,
          name: f.name,
          type: f.type,
          size: f.size,
          file,
        });
        saved.push({ id: Number(lastInsertRowid), name: f.name, type: f.type, size: f.size });
      }
      void portal.sendToUser(identity!.id, 'attachments_added', { noteId: input.id, files: saved });
      return saved;
    },
  );

  // --- background work ---
  portal.endpoint(
    '/api/digest',
    {
      description: 'Queue a digest email of your notes',
      tags: ['notes'],
      gate: { scopes: ['notes:read'] },
      input: z.object({}),
      output: z.object({ jobId: z.number() }),
    },
    ({ identity, setStatus }) => {
      setStatus(202);
      return { jobId: tasks.push('SEND_DIGEST', { userId: identity!.id }) };
    },
  );

  // --- admin (scope notes:admin) ---
  portal.endpoint(
    '/api/admin/stats',
    {
      method: 'GET',
      description: 'Counts of users, notes and background jobs',
      tags: ['admin'],
      gate: { scopes: ['notes:admin'] },
      input: z.object({}),
    },
    () => ({ users: db.count('users'), notes: db.count('notes'), tasks: tasks.stats() }),
  );
  portal.endpoint(
    '/api/admin/dead-letters',
    {
      method: 'GET',
      description: 'Background jobs that ran out of attempts',
      tags: ['admin'],
      gate: { scopes: ['notes:admin'] },
      input: z.object({}),
    },
    () => tasks.deadLetters({ limit: 100 }),
  );
  portal.endpoint(
    '/api/admin/dead-letters/:id/retry',
    {
      description: 'Send a dead job back to the queue',
      tags: ['admin'],
      gate: { scopes: ['notes:admin'] },
      input: z.object({ id: z.number().int().positive() }),
    },
    ({ input }) => {
      if (!tasks.retryDead(input.id))
        throw new HttpError(404, 'No such dead letter', { code: 'DEAD_LETTER_NOT_FOUND' });
      return { requeued: input.id };
    },
  );

  // --- realtime: sockets authenticate with the same tokens; a shared "team" group ---
  portal.onEvent(
    'join_team',
    {
      description: 'Join a team group',
      gate: { auth: 'bearer', scopes: ['notes:read'] },
      input: z.object({ teamId: z.string().regex(/^[a-z0-9-]{1,32}$/) }),
    },
    async ({ input, socket }) => {
      await portal.joinGroup(socket, `team-${input.teamId}`);
      return { joined: input.teamId, members: await portal.groupMembers(`team-${input.teamId}`) };
    },
  );
  portal.onEvent(
    'team_message',
    {
      description: 'Say something to a team you joined',
      gate: { auth: 'bearer', scopes: ['notes:write'] },
      input: z.object({ teamId: z.string().regex(/^[a-z0-9-]{1,32}$/), text: z.string().min(1).max(500) }),
    },
    async ({ input, identity, socket }) => {
      if (!socket.rooms.has(`group:team-${input.teamId}`))
        throw new HttpError(403, 'Join the team first', { code: 'NOT_IN_TEAM' });
      await portal.sendToGroup(`team-${input.teamId}`, 'team_message', { from: identity!.id, text: input.text });
      return { delivered: true };
    },
  );

  // Maintenance: POST /admin/lifecycle (scope lifecycle:admin, which the demo admin has) flips the state;
  // gated routes then answer 503 with Retry-After while /health, /ready and /status keep working.

  // --- the express fallback still serves ordinary routes ---
  portal.app.get('/', (_req, res) => {
    res.type('text/plain').send('notes service: see /openapi.json\n');
  });

  tasks.start();
  // Stopped by the portal after in-flight requests have drained (so a request finishing during shutdown can
  // still push), and before the database closes (hooks run in reverse registration order).
  portal.onClose(() => tasks.stop({ timeoutMs: 5000 }));
  // Jobs by state and job durations in /metrics.
  portal.track(tasks);
  return {
    portal,
    db,
    tasks,
    close: () => portal.close(),
  };
}
