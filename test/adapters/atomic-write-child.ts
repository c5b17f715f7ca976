// Run under strace by atomic-write.test.ts: one write through one of the atomic writer's callers.
import { readSnapshot, replaceFile } from '../../source/adapters/atomic-file.js';
import { writePublic, writeSecret } from '../../source/adapters/secret-files.js';
import { writeReport } from '../../source/adapters/text-out.js';

const [kind, file] = process.argv.slice(2) as [string, string];
const text = `written by ${kind}\n`;
if (kind === 'report') writeReport(file, text);
else if (kind === 'secret') writeSecret(file, text);
else if (kind === 'public') writePublic(file, text);
else if (kind === 'config') replaceFile(file, text, { expected: readSnapshot(file).fingerprint });
else throw new Error(`unknown kind ${kind}`);
