// The servers measured by bench/peers.ts, all in this one process, each on its own port (bench/servers.ts has
// the shared ones). The assembled fastify gives the full gate's features from fastify's own plugins.
import Fastify from 'fastify';
import helmet from '@fastify/helmet';
import jwt from '@fastify/jwt';
import rateLimit from '@fastify/rate-limit';
import metrics from 'fastify-metrics';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IN_MEMORY, answerCpu } from './harness.js';
import type { PortalOptions } from '../src/index.js';
import * as shared from './servers.js';

declare module '@fastify/jwt' {
  interface FastifyJWT {
    user: { sub: string; scopes: string[] };
  }
}

const node = shared.nodeServer();
const nodeHeaders = shared.nodeServerWithPortalHeaders();
const fastify = await shared.bareFastify();

// fastify + helmet, HS256 bearer with a scope check, per-user rate limit, zod in and out, prom-client metrics,
// and its own request log (pino, logger on) to a file.
const assembledLog = shared.logFile('fastify-requests.log');
const assembled = Fastify({ logger: { level: 'info', file: assembledLog.path } })
  .setValidatorCompiler(validatorCompiler)
  .setSerializerCompiler(serializerCompiler)
  .withTypeProvider<ZodTypeProvider>();
await assembled.register(helmet);
await assembled.register(jwt, { secret: shared.SECRET });
// fastify-metrics is CommonJS with an ES default export: under Node's ESM loader the plugin is its .default.
await assembled.register(metrics.default, { endpoint: '/metrics' });
assembled.addHook('onRequest', async (req) => {
  await req.jwtVerify();
});
await assembled.register(rateLimit, {
  hook: 'preHandler',
  max: shared.RATE_POINTS,
  timeWindow: shared.RATE_WINDOW_SEC * 1000,
  keyGenerator: (req) => req.user.sub,
});
assembled.get(
  '/full',
  {
    schema: {
      querystring: z.object({ name: z.string().min(1), count: z.coerce.number().int() }),
      response: { 200: z.object({ message: z.string(), count: z.number() }), 403: z.object({ error: z.string() }) },
    },
    preHandler: async (req, res) => {
      if (!req.user.scopes.includes('bench')) await res.code(403).send({ error: 'missing scope' });
    },
  },
  async (req) => shared.reply(req.query.name, req.query.count),
);
await assembled.listen({ port: 0, host: '127.0.0.1' });
const fastifyToken = assembled.jwt.sign({ sub: 'bench-user', scopes: ['bench'] }, { expiresIn: '1h' });

// In memory the event loop never idles (the driver runs in it), which the overload monitor would read as overload
// and shed: off there only. Over loopback the portals keep every default.
const quiet: PortalOptions = IN_MEMORY ? { overload: false } : {};
const none = shared.portal(undefined, quiet);
const gateLog = shared.logFile();
const unobservedLog = shared.logFile('requests-unobserved.log');
// Full gate: defaults + request log (file); without metrics/tracing, log on; metrics/tracing on, log off (= none).
const full = shared.portal(undefined, shared.loggedOptions(gateLog.path, quiet));
const unobserved = shared.portal(
  undefined,
  shared.loggedOptions(unobservedLog.path, { metrics: false, tracing: false, ...quiet }),
);
for (const p of [none, full, unobserved]) await p.run({ port: 0, handleSignals: false });
shared.exitOnTerm(async () => {
  await Promise.all([full.close(), unobserved.close(), assembled.close()]);
  gateLog.cleanup();
  unobservedLog.cleanup();
  assembledLog.cleanup();
});
const token = await none.tokens.issue({ sub: 'bench-user', scopes: ['bench'], ttl: '1h' });

process.stdout.write(
  `${JSON.stringify({
    node: await shared.listen(node),
    nodeHeaders: await shared.listen(nodeHeaders),
    fastify: shared.fastifyPort(fastify),
    assembled: shared.fastifyPort(assembled),
    none: none.port,
    full: full.port,
    fullUnobserved: unobserved.port,
    fullUnlogged: none.port,
    token,
    fastifyToken,
  })}\n`,
);

answerCpu({
  node,
  nodeHeaders,
  fastify: fastify.server,
  assembled: assembled.server,
  none: none.server,
  full: full.server,
  fullUnobserved: unobserved.server,
  fullUnlogged: none.server,
});
