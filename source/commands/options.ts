// Option values checked where commander reads them (`.argParser`): a bad one is a usage error
// naming the option and the value, then what was expected (`error: option '--days <n>' argument
// 'x' is invalid. expected whole days 1-3650`), exit 2, before anything runs. One parser per
// kind of value. The agent's --interval, --clock-skew and --bridge-buffer are not here: they
// can also come from its settings file and OPSDECK_AGENT_* variables, which agent-settings.ts
// checks together with the flag, naming the file and line.
import { InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../core/duration.js';

/** A duration option (`2s`, `500ms`) as milliseconds. */
export const durationArg =
  (bounds: { minMs?: number; maxMs?: number } = {}) =>
  (value: string): number => {
    const r = parseDuration(value, bounds);
    if (!r.ok) throw new InvalidArgumentError(r.reason);
    return r.ms;
  };

const range = (min: number, max: number) =>
  max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;

/** A whole number in [min, max]; `what` names it in the message (`whole days`). */
export const intArg =
  (min: number, max = Number.MAX_SAFE_INTEGER, what = 'a whole number') =>
  (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${what} ${range(min, max)}, got "${value}"`);
    return n;
  };

/** A number (fractions allowed) in [min, max]. */
export const numberArg =
  (min: number, max: number, what = 'a number') =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${what} ${range(min, max)}, got "${value}"`);
    return n;
  };

/**
 * An option whose value `parse` checks; its default is written as the operator would type it
 * (`3s`), parsed once here, because commander does not pass defaults through the parser.
 */
export function checkedOption<T>(
  flags: string,
  description: string,
  parse: (value: string) => T,
  fallback?: string,
): Option {
  const option = new Option(flags, description).argParser(parse);
  return fallback === undefined ? option : option.default(parse(fallback), fallback);
}
