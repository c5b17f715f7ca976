// `--jwks FILE` and `--clock-skew S` for every receiver of control requests (agent, sim).
import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { readJwks, tokenVerifier } from '../adapters/jwt.js';
import { DEFAULT_SKEW_S, type TokenVerifier } from '../core/security/token.js';
import { EXIT, Exit, type Io } from './io.js';

export interface AuthArgs {
  jwks?: string;
  clockSkew: string;
}

export const addAuthOptions = (cmd: Command): Command =>
  cmd
    .option(
      '--jwks <file>',
      'public JWKS (opsdeck certs: secrets/jwt/jwks.json): control requests must carry an EdDSA JWT signed by one of its keys',
    )
    .option(
      '--clock-skew <s>',
      'seconds of clock difference allowed on exp/nbf/iat',
      String(DEFAULT_SKEW_S),
    );

/** The verifier, or undefined without --jwks; an unreadable JWKS is bad input (exit 2). */
export function loadAuth(
  args: AuthArgs,
  io: Io,
  who: string,
): { verify: TokenVerifier; keys: number; file: string } | undefined {
  const skew = Number(args.clockSkew);
  if (!Number.isFinite(skew) || skew < 0 || skew > 3600) {
    io.err(`${who}: --clock-skew ${args.clockSkew}: expected seconds 0-3600`);
    throw new Exit(EXIT.badInput);
  }
  if (!args.jwks) return undefined;
  const file = isAbsolute(args.jwks) ? args.jwks : resolve(io.cwd, args.jwks);
  try {
    const keys = readJwks(file);
    return { verify: tokenVerifier({ keys, skewS: skew }), keys: keys.size, file };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      `${who}: --jwks ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
    throw new Exit(EXIT.badInput);
  }
}
