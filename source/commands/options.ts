// Option values checked where commander reads them (`.argParser`): a bad one is a usage error
// naming the option, exit 2, before anything runs. One parser per kind of value.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration.js';

/** A duration option (`2s`, `500ms`) as milliseconds. */
export const durationArg =
  (bounds: { minMs?: number; maxMs?: number } = {}) =>
  (value: string): number => {
    const r = parseDuration(value, bounds);
    if (!r.ok) throw new InvalidArgumentError(r.reason);
    return r.ms;
  };

/** A whole number in [min, max]. */
export const intArg =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number ${min}-${max}, got "${value}"`);
    return n;
  };
