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
  if (track.last === undefined)
    return { ...track, first: seq, last: seq, delivered: track.delivered + 1 };
  if (seq <= track.last) return { ...track, redelivered: track.redelivered + 1 };
  if (seq === track.last + 1) return { ...track, last: seq, delivered: track.delivered + 1 };
  const range = [track.last + 1, seq - 1] as const;
  return {
    ...track,
    last: seq,
    delivered: track.delivered + 1,
    gaps: track.gaps + (seq - track.last - 1),
    missing: track.missing.length < MAX_MISSING_RANGES ? [...track.missing, range] : track.missing,
  };
}

/** One stream's continuity as the consumer saw it. `tracked` false: the filter does not cover the stream. */
export interface StreamSequence extends SeqTrack {
  stream: string;
  tracked: boolean;
}
