// The servers of bench/overload.ts's sampling-cost part, in one child process: the bench:peers `auth: 'none'`
// portal with shedding off, and the same with the sampler running and limits that never trip (heap and RSS at
// their defaults, delay and utilization not watched), so the difference is what sampling and the per-request
// check cost.
import { answerCpu } from './harness.js';
import * as shared from './servers.js';

const off = shared.portal(undefined, { overload: false });
const sampling = shared.portal(undefined, { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } });
// And the defaults: does a closed loop of 50 connections, saturating the process, trip a limit?
const defaults = shared.portal(undefined, {});
for (const p of [off, sampling, defaults]) await p.run({ port: 0, handleSignals: false });
shared.exitOnTerm(async () => {
  await Promise.all([off.close(), sampling.close(), defaults.close()]);
});
process.stdout.write(`${JSON.stringify({ off: off.port, sampling: sampling.port, defaults: defaults.port })}\n`);
answerCpu();
