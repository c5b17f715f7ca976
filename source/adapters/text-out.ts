// Writes a generated report (a port matrix, say) in one step through the one atomic writer
// (atomic-write.ts), so a failed write never leaves a half-written report behind and a crash
// never leaves an empty one. Reports are regenerated, not edited, so no lock or backup
// (atomic-file.ts adds those for configs).
import { AtomicWriteError, reasonOf, writeFileAtomic } from './atomic-write.js';

export class WriteError extends Error {}

export function writeReport(file: string, text: string): void {
  try {
    writeFileAtomic(file, text);
  } catch (error) {
    if (!(error instanceof AtomicWriteError)) throw error;
    if (!error.unchanged) throw new WriteError(error.message);
    const why =
      error.code === 'ENOENT' && error.stage === 'temp'
        ? 'the folder does not exist'
        : reasonOf(error.cause);
    throw new WriteError(`cannot write ${file}: ${why}; nothing was written`);
  }
}
