// Writes a generated report (a port matrix, say) in one step: a temp file in the same folder,
// renamed over the target, so a failed write never leaves a half-written report behind.
// Reports are regenerated, not edited, so no lock or backup (atomic-file.ts does that for configs).
import { randomBytes } from 'node:crypto';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class WriteError extends Error {}

export function writeReport(file: string, text: string): void {
  const temp = join(
    dirname(file),
    `.${basename(file)}.opsdeck-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    writeFileSync(temp, text, { flag: 'wx' });
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already renamed
    }
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the folder does not exist'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (error as Error).message;
    throw new WriteError(`cannot write ${file}: ${why}; nothing was written`);
  }
}
