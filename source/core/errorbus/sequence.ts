// JetStream sequence continuity on a consumer: when the consumer's filter covers the whole
// stream, consecutive deliveries carry consecutive stream sequences. A jump is messages the
// stream no longer had when the consumer got there (limits discarded them, someone deleted
// them): errors NATS did not deliver. A sequence at or below the last one is a redelivery.

export interface SeqTrack {
  first?: number;
  last?: number;
  delivered: number;
  redelivered: number;
  /** Stream sequences skipped, in total. */
  gaps: number;
  /** The first few skipped ranges, inclusive, for the evidence. */
  missing: ReadonlyArray<readonly [number, number]>;
}

export const MAX_MISSING_RANGES = 10;

export const newSeqTrack = (): SeqTrack => ({ delivered: 0, redelivered: 0, gaps: 0, missing: [] });

export function noteSeq(track: SeqTrack, seq: number): SeqTrack {
  // Built field by field, not spread: this runs for every JetStream delivery, and a spread with
  // overrides cost about a microsecond each (bench/ingest-nats.ts).
  const { first, last, delivered, redelivered, gaps, missing } = track;
  if (last === undefined)
    return { first: seq, last: seq, delivered: delivered + 1, redelivered, gaps, missing };
  if (seq <= last) return { first, last, delivered, redelivered: redelivered + 1, gaps, missing };
  if (seq === last + 1)
    return { first, last: seq, delivered: delivered + 1, redelivered, gaps, missing };
  const range = [last + 1, seq - 1] as const;
  return {
    first,
    last: seq,
    delivered: delivered + 1,
    redelivered,
    gaps: gaps + (seq - last - 1),
    missing: missing.length < MAX_MISSING_RANGES ? [...missing, range] : missing,
  };
}

/**
 * noteSeq's answer written into `track` itself, for a track that has had its first delivery
 * (`last` set; before it, noteSeq makes the track with its fields in their order): the feed's
 * per-delivery step without a new object per message. A new gap replaces `missing` with a new
 * list, as noteSeq does: copies of the track (the feed's sequences()) share the old one.
 */
export function advanceSeq(track: SeqTrack, seq: number): void {
  const last = track.last!;
  if (seq <= last) {
    track.redelivered++;
    return;
  }
  track.delivered++;
  if (seq !== last + 1) {
    track.gaps += seq - last - 1;
    if (track.missing.length < MAX_MISSING_RANGES)
      track.missing = [...track.missing, [last + 1, seq - 1] as const];
  }
  track.last = seq;
}

/**
 * The stream sequence of a JetStream delivery, from its reply subject
 * (`$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.…`, or with `<domain>.<account hash>.`
 * after ACK): what nats.js's `JsMsg.seq` reads, without splitting the whole subject into an
 * object per message. Undefined when the reply is not one.
 */
export function ackSeq(reply: string): number | undefined {
  if (!reply.startsWith('$JS.ACK.')) return undefined;
  let dots = 0;
  for (let i = 0; i < reply.length; i++) if (reply.charCodeAt(i) === 46) dots++;
  // 9 tokens (8 dots): the old form; 11 or more: the new one, two tokens longer before the stream.
  const index = dots === 8 ? 5 : dots >= 10 ? 7 : -1;
  if (index < 0) return undefined;
  let start = 0;
  for (let k = 0; k < index; k++) start = reply.indexOf('.', start) + 1;
  const end = reply.indexOf('.', start);
  const seq = Number(reply.slice(start, end < 0 ? undefined : end));
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined;
}

/** One stream's continuity as the consumer saw it. `tracked` false: the filter does not cover the stream. */
export interface StreamSequence extends SeqTrack {
  stream: string;
  tracked: boolean;
}
