// Reading an agent's log: the last N lines of a file, then following it the way `tail -F` does
// (a rename makes it finish the old file and open the new one; a truncation starts it again from
// the top), or `docker logs [--follow]` for an agent that runs in a container. Raw lines out;
// parsing, sanitising and the rate cap are the caller's (core/logs).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** Bytes read per poll at most: a log written faster than this is skipped over, and said so. */
const MAX_READ_PER_POLL = 8 * 1024 * 1024;
/** A line longer than this is cut (the rest of it still counts as read). */
const MAX_RAW_LINE = 64 * 1024;
const CHUNK = 64 * 1024;

export interface TailSink {
  lines(raw: string[]): void;
  note(text: string): void;
  /** The source ended (not following, docker exited); nothing more comes. */
  end(reason: string): void;
}

export interface Tail {
  stop(): void;
}

/** The last `n` lines of the file at `fd` up to byte `size` (oldest first). */
function lastLinesOf(fd: number, size: number, n: number): string[] {
  if (n <= 0 || size === 0) return [];
  let pos = size;
  let text = '';
  let newlines = 0;
  while (pos > 0 && newlines <= n) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, pos);
    const chunk = buf.toString('utf8');
    for (const ch of chunk) if (ch === '\n') newlines++;
    text = chunk + text;
    if (size - pos > 16 * 1024 * 1024) break;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // A first line cut by the chunk edge is not a whole line.
  if (pos > 0) lines.shift();
  return lines.slice(-n);
}

/** The last `n` lines of a file (and of its first backup, `.1`, when the file has fewer). */
export function lastLines(path: string, n: number): string[] {
  const read = (p: string, k: number): string[] => {
    let fd: number | undefined;
    try {
      fd = openSync(p, 'r');
      return lastLinesOf(fd, fstatSync(fd).size, k);
    } catch {
      return [];
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const own = read(path, n);
  return own.length >= n ? own : [...read(`${path}.1`, n - own.length), ...own];
}

const inodeOf = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};

/**
 * The last `lines` lines, then (with `follow`) every line appended, across rotation (rename,
 * then a new file at the path) and truncation. Polls: inotify misses renames over NFS and
 * bind mounts, and a poll every 100 ms is what a follower costs.
 */
export function tailFile(
  path: string,
  options: { lines: number; follow: boolean; pollMs?: number },
  sink: TailSink,
): Tail {
  let fd: number | undefined;
  let ino: number | undefined;
  let pos = 0;
  let partial = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const open = (fromEnd: boolean): boolean => {
    try {
      fd = openSync(path, 'r');
    } catch {
      return false;
    }
    const st = fstatSync(fd);
    ino = st.ino;
    pos = fromEnd ? st.size : 0;
    return true;
  };

  const emit = (text: string, flush: boolean) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    if (flush && partial) {
      parts.push(partial);
      partial = '';
    }
    if (partial.length > MAX_RAW_LINE) {
      parts.push(partial);
      partial = '';
    }
    if (parts.length)
      sink.lines(parts.map((l) => (l.length > MAX_RAW_LINE ? l.slice(0, MAX_RAW_LINE) : l)));
  };

  /** Reads what the open file has past `pos`. */
  const drain = (flush: boolean) => {
    if (fd === undefined) return;
    const size = fstatSync(fd).size;
    if (size < pos) {
      sink.note(`${path} was truncated: reading it from the start`);
      pos = 0;
      partial = '';
    }
    if (size - pos > MAX_READ_PER_POLL) {
      sink.note(
        `${size - pos - MAX_READ_PER_POLL} bytes skipped: the log grows faster than it can be read`,
      );
      pos = size - MAX_READ_PER_POLL;
      partial = '';
    }
    while (pos < size) {
      const len = Math.min(CHUNK * 4, size - pos);
      const buf = Buffer.alloc(len);
      const got = readSync(fd, buf, 0, len, pos);
      if (got <= 0) break;
      pos += got;
      emit(buf.toString('utf8', 0, got), false);
    }
    if (flush && partial) emit('', true);
  };

  const poll = () => {
    if (stopped) return;
    try {
      if (fd === undefined) {
        if (open(false)) sink.note(`${path} appeared: following it`);
      } else {
        drain(false);
        const now = inodeOf(path);
        if (now !== undefined && now !== ino) {
          // Rotated: what the old file got before the rename is read, then the new one from 0.
          drain(true);
          closeSync(fd);
          fd = undefined;
          if (open(false)) sink.note(`${path} rotated: following the new file`);
          drain(false);
        }
      }
    } catch (error) {
      sink.note(`reading ${path}: ${(error as Error).message}`);
    }
    timer = setTimeout(poll, options.pollMs ?? 100);
  };

  if (!open(true)) {
    if (!options.follow) {
      sink.end(`${path}: no such file`);
      return { stop: () => undefined };
    }
    sink.note(`${path} does not exist yet: waiting for it`);
  } else {
    const size = pos;
    const tail = lastLinesOf(fd!, size, options.lines);
    // Lines of the first backup when the file was just rotated and holds fewer.
    const older =
      tail.length < options.lines ? lastLines(`${path}.1`, options.lines - tail.length) : [];
    const first = [...older, ...tail];
    if (first.length) sink.lines(first);
    if (!options.follow) {
      closeSync(fd!);
      sink.end('not following');
      return { stop: () => undefined };
    }
  }
  timer = setTimeout(poll, options.pollMs ?? 100);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** `docker logs --tail N [--follow] CONTAINER`: stdout and stderr, line by line. */
export function tailDocker(
  container: string,
  options: { lines: number; follow: boolean; docker?: string },
  sink: TailSink,
): Tail {
  const args = [
    'logs',
    '--tail',
    String(options.lines),
    ...(options.follow ? ['--follow'] : []),
    container,
  ];
  let child: ChildProcess;
  let ended = false;
  const end = (reason: string) => {
    if (ended) return;
    ended = true;
    sink.end(reason);
  };
  try {
    child = spawn(options.docker ?? 'docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    end(`docker logs ${container}: ${(error as Error).message}`);
    return { stop: () => undefined };
  }
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      if (partial.length > MAX_RAW_LINE) {
        parts.push(partial.slice(0, MAX_RAW_LINE));
        partial = '';
      }
      if (parts.length) sink.lines(parts);
    });
    stream.on('end', () => {
      if (partial) sink.lines([partial]);
      partial = '';
    });
  }
  child.on('error', (error) => end(`docker logs ${container}: ${error.message}`));
  child.on('close', (code) =>
    end(code === 0 ? 'docker logs ended' : `docker logs ${container} exited with ${code}`),
  );
  return {
    stop() {
      ended = true;
      child.kill('SIGTERM');
    },
  };
}

export interface Container {
  name: string;
  service?: string;
  /** Known with `all`: stopped containers are listed too. */
  running?: boolean;
}

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The running container of an agent: a compose service named like the agent (ServiceRegistry,
 * service-registry, service_registry), or one whose command runs the agent's script.
 */
export function findContainer(
  agent: { name: string; scriptPath: string },
  docker = 'docker',
  timeoutMs = 3000,
  /** Stopped containers too (to start one again). */
  all = false,
): Promise<Container | { error: string }> {
  return new Promise((resolve) => {
    let out = '';
    let child: ChildProcess;
    try {
      child = spawn(
        docker,
        [
          'ps',
          ...(all ? ['-a'] : []),
          '--no-trunc',
          '--format',
          '{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.Command}}\t{{.State}}',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (error) {
      resolve({ error: `docker: ${(error as Error).message}` });
      return;
    }
    let err = '';
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => void (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => void (err += c));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ error: `docker: ${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Its own words (no daemon: "Cannot connect to the Docker daemon at ..."), or that it hung.
      if (late)
        return resolve({ error: `docker ps did not answer in ${timeoutMs} ms (is dockerd hung?)` });
      const said = err.trim().split('\n')[0]?.slice(0, 200);
      if (code !== 0)
        return resolve({ error: `docker ps exited with ${code}${said ? `: ${said}` : ''}` });
      const want = squash(agent.name);
      const script = agent.scriptPath.replace(/^\.\//, '');
      for (const line of out.split('\n')) {
        const [name, service, command, state] = line.split('\t');
        if (!name) continue;
        if (
          (service && squash(service) === want) ||
          squash(name) === want ||
          (command ?? '').includes(script)
        )
          return resolve({
            name,
            ...(service ? { service } : {}),
            ...(state ? { running: state === 'running' } : {}),
          });
      }
      resolve({
        error: `no running container for ${agent.name} (docker ps: by compose service, name or script)`,
      });
    });
  });
}
