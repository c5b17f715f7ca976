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
  const tail = new FileTail(path, options.pollMs ?? 100, sink);
  if (!tail.open(true)) {
    if (!options.follow) {
      sink.end(`${path}: no such file`);
      return { stop: () => undefined };
    }
    sink.note(`${path} does not exist yet: waiting for it`);
  } else {
    tail.sendLast(options.lines);
    if (!options.follow) {
      tail.close();
      sink.end('not following');
      return { stop: () => undefined };
    }
  }
  tail.schedule();
  return { stop: () => tail.stop() };
}

/** A followed file: the open descriptor, its inode (to see a rotation), and the read position. */
class FileTail {
  private fd: number | undefined;
  private ino: number | undefined;
  private pos = 0;
  /** The last line read, until its newline comes. */
  private partial = '';
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly pollMs: number,
    private readonly sink: TailSink,
  ) {}

  open(fromEnd: boolean): boolean {
    try {
      this.fd = openSync(this.path, 'r');
    } catch {
      return false;
    }
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.pos = fromEnd ? st.size : 0;
    return true;
  }

  /** The last `n` lines of the file just opened at its end. */
  sendLast(n: number): void {
    const tail = lastLinesOf(this.fd!, this.pos, n);
    // Lines of the first backup when the file was just rotated and holds fewer.
    const older = tail.length < n ? lastLines(`${this.path}.1`, n - tail.length) : [];
    const first = [...older, ...tail];
    if (first.length) this.sink.lines(first);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  schedule(): void {
    this.timer = setTimeout(() => this.poll(), this.pollMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.close();
  }

  private emit(text: string, flush: boolean): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (flush && this.partial) {
      parts.push(this.partial);
      this.partial = '';
    }
    if (this.partial.length > MAX_RAW_LINE) {
      parts.push(this.partial);
      this.partial = '';
    }
    if (parts.length)
      this.sink.lines(parts.map((l) => (l.length > MAX_RAW_LINE ? l.slice(0, MAX_RAW_LINE) : l)));
  }

  /** Reads what the open file has past `pos`. */
  private drain(flush: boolean): void {
    const fd = this.fd;
    if (fd === undefined) return;
    const size = fstatSync(fd).size;
    if (size < this.pos) {
      this.sink.note(`${this.path} was truncated: reading it from the start`);
      this.pos = 0;
      this.partial = '';
    }
    if (size - this.pos > MAX_READ_PER_POLL) {
      this.sink.note(
        `${size - this.pos - MAX_READ_PER_POLL} bytes skipped: the log grows faster than it can be read`,
      );
      this.pos = size - MAX_READ_PER_POLL;
      this.partial = '';
    }
    while (this.pos < size) {
      const len = Math.min(CHUNK * 4, size - this.pos);
      const buf = Buffer.alloc(len);
      const got = readSync(fd, buf, 0, len, this.pos);
      if (got <= 0) break;
      this.pos += got;
      this.emit(buf.toString('utf8', 0, got), false);
    }
    if (flush && this.partial) this.emit('', true);
  }

  private poll(): void {
    if (this.stopped) return;
    const path = this.path;
    try {
      if (this.fd === undefined) {
        if (this.open(false)) this.sink.note(`${path} appeared: following it`);
      } else {
        this.drain(false);
        const now = inodeOf(path);
        if (now !== undefined && now !== this.ino) {
          // Rotated: what the old file got before the rename is read, then the new one from 0.
          this.drain(true);
          this.close();
          if (this.open(false)) this.sink.note(`${path} rotated: following the new file`);
          this.drain(false);
        }
      }
    } catch (error) {
      this.sink.note(`reading ${path}: ${(error as Error).message}`);
    }
    this.schedule();
  }
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
