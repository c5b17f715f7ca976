// The JetStream side of the error bus: which streams the server has (name, subjects, size), and
// applying a stream fix (core/errorbus/streams.ts plans it) step by step.
import { nanos, StorageType, type NatsConnection } from 'nats';
import { ERRORS_LIMITS, type FixStep, type StreamObs } from '../core/errorbus/streams.js';

export async function listStreams(nc: NatsConnection): Promise<StreamObs[]> {
  const jsm = await nc.jetstreamManager();
  const out: StreamObs[] = [];
  for await (const info of jsm.streams.list()) {
    out.push({
      name: info.config.name,
      subjects: [...(info.config.subjects ?? [])],
      messages: info.state.messages,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Applies the steps in order; stops at the first failure and says which step failed. */
export async function applyStreamFix(
  nc: NatsConnection,
  steps: readonly FixStep[],
): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const done: string[] = [];
  for (const step of steps) {
    try {
      if (step.kind === 'create') {
        await jsm.streams.add({
          name: step.stream,
          subjects: step.subjects,
          max_msgs: ERRORS_LIMITS.maxMsgs,
          max_age: nanos(ERRORS_LIMITS.maxAgeMs),
          storage: StorageType.File,
        });
        done.push(`created ${step.stream} on ${step.subjects.join(', ')}`);
      } else {
        await jsm.streams.update(step.stream, { subjects: step.to });
        done.push(`${step.stream}: subjects now ${step.to.join(', ')}`);
      }
    } catch (error) {
      const what =
        step.kind === 'create' ? `creating ${step.stream}` : `changing ${step.stream}'s subjects`;
      throw new Error(
        `${what} failed: ${(error as Error).message}${done.length ? ` (already done: ${done.join('; ')})` : ' (nothing was changed)'}`,
      );
    }
  }
  return done;
}
