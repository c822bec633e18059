/**
 * `npm run bench:types`: generate strict apps with 1, 50, 100 and 200 routes (a routes object of `defineEndpoint`
 * values, a portal registering them, a caller using `createClient<typeof routes>` on every route), type-check
 * each against gatehouse's declarations and print tsc's CPU time, wall time, check time and instantiations.
 */
import os from 'node:os';
import path from 'node:path';
import { appRoot, checkTypeApp, emitDeclarations, writeTypeApp } from '../test/typed/type-app.js';

const { dir: root, cleanup } = appRoot();
try {
  await emitDeclarations(root);
  console.log(
    `Node ${process.version}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log('routes | cpu ms | wall ms | check s | instantiations | errors');
  for (const n of [1, 50, 100, 200]) {
    const dir = path.join(root, `app-${n}`);
    writeTypeApp(dir, n, path.join(root, 'lib'));
    const r = await checkTypeApp(dir);
    const errors = r.errors === '' ? 'none' : r.errors.split('\n').length;
    console.log(
      `${n} | ${Math.round(r.cpuMs)} | ${Math.round(r.wallMs)} | ${r.checkSec} | ${r.instantiations} | ${errors}`,
    );
  }
} finally {
  cleanup();
}
