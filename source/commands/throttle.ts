// `opsdeck throttle pc2 --level 0-3 | --auto on|off`: PC2 throttling over NATS
// (opsdeck.<machine>.control), through the action path: preview, confirm, execute, verify, audit.
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { auditPath } from '../adapters/audit.js';
import {
  connectControl,
  controlRequest,
  controlSubject,
  tokenSource,
} from '../adapters/control-client.js';
import { redact, splitServers } from '../adapters/nats-link.js';
import { autoOffAction, startAutoThrottle } from '../actions/auto-throttle.js';
import { runAction } from '../actions/run-cli.js';
import { throttleAction } from '../actions/throttle.js';
import {
  checkAutoPolicy,
  DEFAULT_AUTO_POLICY,
  type AutoPolicy,
} from '../core/resources/auto-throttle.js';
import { isThrottleLevel, throttleTable, type ThrottleLevel } from '../core/resources/throttle.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { natsServers } from '../wiring/data-plane.js';
import { addAuthOptions, loadAuth, type AuthArgs } from './auth-options.js';
import { formatDuration } from '../core/duration.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg, intArg, numberArg } from './options.js';
import { secretsFolder } from './secrets-dir.js';
import {
  findSampleKeys,
  readSampleKeys,
  SAMPLE_KEYS_FILE,
  type SampleKeys,
} from '../adapters/sample-sign.js';

interface ThrottleArgs extends AuthArgs {
  level?: ThrottleLevel;
  auto?: string;
  nats?: string;
  secrets?: string;
  yes?: boolean;
  dryRun?: boolean;
  timeout: number;
  raiseAbove: number;
  lowerBelow: number;
  samples: number;
  minLevel: ThrottleLevel;
  maxLevel: ThrottleLevel;
  /** Milliseconds. */
  duration?: number;
  sampleKeys?: string;
}

function bad(io: Io, message: string): never {
  io.err(`opsdeck throttle: ${message}`);
  throw new Exit(EXIT.badInput);
}

const PERCENT = numberArg(0, 100, 'a percentage');

/**
 * Who may stop a running auto-throttle: "off" is a control action, so it needs a token the
 * runner can check (--jwks, or the JWKS in the secrets folder). With no secrets at all the fleet
 * runs open (the demo): said so at start. With a key but no JWKS, remote stops are refused.
 */
function runnerAuth(args: ThrottleArgs, io: Io, secrets: string, hasToken: boolean): ControlAuth {
  const jwks =
    args.jwks ??
    (existsSync(join(secrets, 'jwt/jwks.json')) ? join(secrets, 'jwt/jwks.json') : undefined);
  const loaded = loadAuth({ ...args, ...(jwks ? { jwks } : {}) }, io, 'opsdeck throttle');
  if (loaded) return { mode: 'verify', verify: loaded.verify };
  if (!hasToken) return { mode: 'open' };
  return {
    mode: 'refuse',
    reason: `no JWKS to check tokens with (${join(secrets, 'jwt/jwks.json')} missing; pass --jwks): stop it with Ctrl+C`,
  };
}

/** The keys auto-throttle verifies samples with: without them it could be steered by anyone. */
function autoKeys(io: Io, args: ThrottleArgs, secrets: string, machine: string): SampleKeys {
  const file = args.sampleKeys ? resolve(io.cwd, args.sampleKeys) : join(secrets, SAMPLE_KEYS_FILE);
  if (!existsSync(file))
    bad(
      io,
      `no sample keys at ${file}: auto-throttle acts only on resources samples signed by the machine (opsdeck certs generate writes samples/keys.json; run the agent with --sample-key); nothing was started`,
    );
  let keys: SampleKeys;
  try {
    keys = readSampleKeys(file);
  } catch (error) {
    bad(io, `--sample-keys: ${(error as Error).message}`);
  }
  if (!keys.machines.includes(machine))
    bad(io, `${file} holds no sample key for ${machine}; nothing was started`);
  return keys;
}

const LEVEL = (text: string): ThrottleLevel => {
  const n = intArg(0, 3, 'a level')(text);
  if (!isThrottleLevel(n)) throw new InvalidArgumentError(`expected a level 0-3, got "${text}"`);
  return n;
};

export function registerThrottle(program: Command, io: Io): void {
  const cmd = addAuthOptions(program.command('throttle'))
    .description(
      'set PC2 throttling (a JWT-carrying control request over NATS), by hand or automatically from its VRAM',
    )
    .argument('<machine>', 'the machine to throttle (pc2)')
    .addOption(
      checkedOption('--level <n>', 'set this level now (0 normal, 1 soft, 2 hard, 3 shed)', LEVEL),
    )
    .option(
      '--auto <on|off>',
      'on: run the auto policy in the foreground (Ctrl+C ends it); off: stop a running one',
    )
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option(
      '--secrets <dir>',
      'secrets folder from opsdeck certs: signing key or machine token, TLS files (default: $OPSDECK_SECRETS, else secrets/ at the fleet checkout root, else ./secrets)',
    )
    .option('--yes', 'do not ask (for scripts)')
    .option('--dry-run', 'show the preview (exact messages); send nothing')
    .addOption(
      checkedOption(
        '--timeout <duration>',
        'reply timeout per request',
        durationArg({ minMs: 100, maxMs: 60_000 }),
        '3s',
      ),
    );
  addAutoOptions(cmd)
    .addHelpText(
      'after',
      [
        '',
        'Levels (each sends set_thresholds, then set_throttle {level}):',
        ...throttleTable(),
      ].join('\n'),
    )
    .action((machine: string, args: ThrottleArgs) => runThrottle(machine, args, io));
}

/** The auto policy's lines and steps, how long it runs, and the keys samples are checked with. */
const addAutoOptions = (cmd: Command): Command =>
  cmd
    .addOption(
      checkedOption(
        '--raise-above <pct>',
        'auto: raise a level when VRAM stays above this',
        PERCENT,
        String(DEFAULT_AUTO_POLICY.raiseAbovePct),
      ),
    )
    .addOption(
      checkedOption(
        '--lower-below <pct>',
        'auto: lower a level when VRAM stays below this',
        PERCENT,
        String(DEFAULT_AUTO_POLICY.lowerBelowPct),
      ),
    )
    .addOption(
      checkedOption(
        '--samples <n>',
        'auto: consecutive samples beyond a line before a step',
        intArg(1, 1000),
        String(DEFAULT_AUTO_POLICY.samples),
      ),
    )
    .addOption(
      checkedOption(
        '--min-level <n>',
        'auto: lowest level it sets',
        LEVEL,
        String(DEFAULT_AUTO_POLICY.minLevel),
      ),
    )
    .addOption(
      checkedOption(
        '--max-level <n>',
        'auto: highest level it sets',
        LEVEL,
        String(DEFAULT_AUTO_POLICY.maxLevel),
      ),
    )
    .addOption(
      checkedOption(
        '--duration <duration>',
        'auto on: stop after this long (e.g. 30s, 2h)',
        durationArg({ minMs: 100, maxMs: 7 * 86_400_000 }),
      ),
    )
    .option(
      '--sample-keys <file>',
      'the public sample keys samples are verified with (default <secrets>/samples/keys.json): auto on acts only on signed ones; --level counts only a signed one as read back',
    );

/**
 * The keys --level's read-back checks samples with: --sample-keys (bad input when unreadable),
 * else the secrets folder's when there; without any the read-back says it is unverified.
 */
function readBackKeys(io: Io, args: ThrottleArgs, secrets: string): SampleKeys | undefined {
  if (!args.sampleKeys) return findSampleKeys(secrets, io.env);
  try {
    return readSampleKeys(resolve(io.cwd, args.sampleKeys));
  } catch (error) {
    return bad(io, `--sample-keys: ${(error as Error).message}; nothing was sent`);
  }
}

/** What --level / --auto ask for, checked before anything connects; bad input exits 2. */
function checkThrottleArgs(machine: string, args: ThrottleArgs, io: Io) {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(machine))
    bad(io, `machine "${machine}": expected a short name such as pc2`);
  if ((args.level === undefined) === (args.auto === undefined))
    bad(io, 'give exactly one of --level N or --auto on|off');
  if (args.auto !== undefined && args.auto !== 'on' && args.auto !== 'off')
    bad(io, `--auto ${args.auto}: expected on or off`);
  const servers = natsServers(args.nats, io.env);
  if (!servers) bad(io, 'no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS');
  const secrets = secretsFolder(io, args.secrets);
  const token = tokenSource(secrets, machine);
  let auto: { policy: AutoPolicy; keys: SampleKeys } | undefined;
  if (args.auto === 'on') {
    const policy: AutoPolicy = {
      raiseAbovePct: args.raiseAbove,
      lowerBelowPct: args.lowerBelow,
      samples: args.samples,
      minLevel: args.minLevel,
      maxLevel: args.maxLevel,
    };
    const problem = checkAutoPolicy(policy);
    if (problem) bad(io, problem);
    auto = { policy, keys: autoKeys(io, args, secrets, machine) };
  }
  const readBack = args.level !== undefined ? readBackKeys(io, args, secrets) : undefined;
  return { servers: servers, secrets, token, auto, readBack };
}

type Checked = ReturnType<typeof checkThrottleArgs>;

async function runThrottle(machine: string, args: ThrottleArgs, io: Io): Promise<void> {
  const checked = checkThrottleArgs(machine, args, io);
  const { servers, secrets, token } = checked;
  const timeoutMs = args.timeout;
  const server = splitServers(servers).map(redact).join(',');
  const audit = auditPath(io.env);
  let nc;
  try {
    nc = await connectControl({ servers, secretsDir: secrets, env: io.env, timeoutMs });
  } catch (error) {
    io.err(`opsdeck throttle: ${(error as Error).message}; nothing was sent`);
    throw new Exit(EXIT.findings);
  }
  const confirm = { yes: args.yes ?? false, dryRun: args.dryRun ?? false, auditPath: audit };
  try {
    if (args.level !== undefined) {
      const level = args.level;
      const keys = checked.readBack;
      const action = throttleAction({
        nc,
        server,
        machine,
        level,
        token,
        env: io.env,
        timeoutMs,
        ...(keys ? { keys } : {}),
      });
      await runAction(action, io, confirm);
      return;
    }
    if (args.auto === 'off') {
      await runAction(
        autoOffAction({ nc, server, machine, token, env: io.env, timeoutMs }),
        io,
        confirm,
      );
      return;
    }
    if (args.dryRun) {
      io.out(
        `auto-throttle ${machine} would watch opsdeck.${machine}.resources and change levels under policy ${JSON.stringify(checked.auto?.policy)}; (dry run: nothing was started)`,
      );
      return;
    }
    await runAuto(nc, machine, args, io, { ...checked, server, audit });
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** `--auto on` in the foreground until Ctrl+C, SIGTERM, --duration or a remote "off". */
async function runAuto(
  nc: Awaited<ReturnType<typeof connectControl>>,
  machine: string,
  args: ThrottleArgs,
  io: Io,
  c: Checked & { server: string; audit: string },
): Promise<void> {
  const { server, audit, token, secrets } = c;
  const { policy, keys } = c.auto!;
  const timeoutMs = args.timeout;
  const auth = runnerAuth(args, io, secrets, token.kind !== 'none');
  io.out(
    `auto-throttle ${machine}: watching opsdeck.${machine}.resources on ${server}; each change is audited (${audit}); Ctrl+C or \`opsdeck throttle ${machine} --auto off\` stops it`,
  );
  io.out(`auto-throttle ${machine}: remote "off" requests: ${authLabel(auth)}`);
  io.out(
    `auto-throttle ${machine}: acts only on samples signed by ${machine}'s key (${keys.file}); unsigned, forged or replayed ones are ignored and said so`,
  );
  const runner = startAutoThrottle({
    auth,
    keys,
    nc,
    server,
    machine,
    policy,
    token,
    env: io.env,
    timeoutMs,
    log: (line) => io.out(line),
    // Starting the runner was the operator's confirmation; every change is still previewed,
    // verified and audited.
    run: async (action) => {
      try {
        return await runAction(action, io, { yes: true, auditPath: audit });
      } catch (error) {
        if (error instanceof Exit) return undefined;
        throw error;
      }
    },
  });
  const onSignal = (signal: NodeJS.Signals) => runner.stop(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer =
    args.duration !== undefined
      ? setTimeout(() => runner.stop(`--duration ${formatDuration(args.duration!)}`), args.duration)
      : undefined;
  const why = await runner.done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (timer) clearTimeout(timer);
  io.out(
    `auto-throttle ${machine} stopped (${why}); ${machine} shows: ${await shown(nc, machine, timeoutMs)}`,
  );
}

/** What the machine shows, read back now: not the level the runner last asked for. */
async function shown(
  nc: Awaited<ReturnType<typeof connectControl>>,
  machine: string,
  timeoutMs: number,
): Promise<string> {
  const status = await controlRequest(nc, controlSubject(machine), { action: 'status' }, timeoutMs);
  const reading =
    status.kind === 'reply'
      ? (status.value.sample as { throttle?: { summary?: unknown } } | null)?.throttle?.summary
      : undefined;
  return typeof reading === 'string'
    ? reading
    : status.kind === 'reply'
      ? 'no throttle reading in its last sample'
      : `no answer (${status.reason})`;
}
