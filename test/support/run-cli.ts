// The CLI in this process, with its output captured: `main()` as the binary runs it.
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';

export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env,
    cwd,
  };
  return { code: await main(args, io), out, err };
}
