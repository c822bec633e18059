/**
 * The supported-Node check. Imported first by every entry point (the package entry and the CLI), so an older
 * Node fails at once with a message naming the required version instead of a native-module or syntax error
 * further in. No imports on purpose: its body must run before anything else loads, native packages included.
 */

/** The lowest supported Node.js major version (matches `engines.node` in package.json). */
export const MIN_NODE_MAJOR = 22;

const major = Number.parseInt(process.versions.node.split('.')[0] ?? '', 10);
if (!(major >= MIN_NODE_MAJOR)) {
  throw Object.assign(
    new Error(`gatehouse needs Node.js ${MIN_NODE_MAJOR} or newer; this is v${process.versions.node}`),
    {
      code: 'ERR_GATEHOUSE_NODE_VERSION',
    },
  );
}
