// Preloaded (`node --import`) into the consoles of the start-up figure (bench/startup.ts): when
// the first frame has been written (the alternate screen, then the Fleet screen's first pane, as
// the figure's own pattern), it writes this process's CPU time so far (user + system, every
// thread: V8's compiler and GC threads too) and its uptime to $OPSDECK_BENCH_CPU_FILE. It changes
// nothing the console does (a string kept until that frame, one small file written).
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

const file = process.env.OPSDECK_BENCH_CPU_FILE;
if (file) {
  const stdout = process.stdout;
  const write = stdout.write;
  let seen = '';
  stdout.write = function (chunk, ...rest) {
    const result = write.call(this, chunk, ...rest);
    if (seen !== undefined) {
      seen += String(chunk);
      // eslint-disable-next-line no-control-regex
      if (/\x1b\[\?1049h[\s\S]*MAINPC/.test(seen)) {
        seen = undefined;
        const cpu = process.cpuUsage();
        writeFileSync(
          file,
          JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, uptimeMs: performance.now() }),
        );
      }
    }
    return result;
  };
}
