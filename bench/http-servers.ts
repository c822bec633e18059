// The servers measured by bench/http.ts, all in this one process, each on its own port.
// Every case serves the same JSON for GET /greet?name=bench&count=3 (bench/servers.ts).
import { createServer } from 'node:http';
import express from 'express';
import { answerCpu } from './harness.js';
import {
  bareFastify,
  exitOnTerm,
  fastifyPort,
  listen,
  logFile,
  loggedOptions,
  nodeServer,
  portal,
  reply,
} from './servers.js';

const node = nodeServer();

const app = express();
app.get('/greet', (req, res) => {
  res.json(reply(String(req.query.name), Number(req.query.count)));
});
const expressServer = createServer(app);

const fastify = await bareFastify();

const cached = portal();
const uncached = portal(0);
const log = logFile();
const logged = portal(undefined, loggedOptions(log.path));
// The same full gate without metrics and tracing, to show what they cost per request.
const unobserved = portal(undefined, { metrics: false, tracing: false });
for (const p of [cached, uncached, logged, unobserved]) await p.run({ port: 0, handleSignals: false });
exitOnTerm(async () => {
  await logged.close();
  log.cleanup();
});
const token = await cached.tokens.issue({ sub: 'bench-user', scopes: ['bench'], ttl: '1h' });

process.stdout.write(
  `${JSON.stringify({
    node: await listen(node),
    express: await listen(expressServer),
    fastify: fastifyPort(fastify),
    gatehouse: cached.port,
    gatehouseFull: cached.port,
    gatehouseFullNoCache: uncached.port,
    gatehouseFullLogged: logged.port,
    gatehouseFullUnobserved: unobserved.port,
    logFile: log.path,
    token,
  })}\n`,
);

// The parent asks for this process's CPU time around each measurement (server µs per request).
answerCpu();
