// opsdeck's version, as package.json says (test/deploy/version.test.ts keeps the two equal). A
// constant rather than a read of package.json: the console's panes compare it with the version
// each host agent publishes, and panes do no I/O.
export const VERSION = '0.1.0';
