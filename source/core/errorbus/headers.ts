// The three headers the NATS error feed reads (machine, agent, the bridge's mark), read off a
// message's header block as text. nats.js decodes a block into a header map only when asked,
// and that decoding (every name canonicalised into a new string, a key list filtered per name,
// a regex per value) cost more per message than decoding the error itself
// (bench/ingest-nats.ts). This reads the block as nats.js's MsgHdrsImpl.decode does, for these
// names only, and says when it cannot answer as nats.js would.
import { BRIDGE_HEADER } from '../errors/bridge.js';

export interface ErrorHeaders {
  /** The first `machine` header's value ('' when none). */
  machine: string;
  /** The first `agent` header's value ('' when none). */
  agent: string;
  /** Whether an `Opsdeck-Bridge` header is there. */
  bridged: boolean;
}

/**
 * Reads `block` (a header block as UTF-8 text: `NATS/1.0…`, then `Name: value` lines, each ended
 * by CRLF) into `out`, as nats.js reads it: lines after the first split on CRLF, a line's name up
 * to its first colon (exact, not canonicalised), its value after it trimmed, the first value of
 * a name kept. False, with `out` untouched, for a block nats.js would refuse (a name with a
 * character outside 33-126, a value with a CR or LF in it; it then throws) and for any line with
 * a lone CR or LF: the caller asks nats.js, which answers (or throws) as it always did.
 */
export function readErrorHeaders(block: string, out: ErrorHeaders): boolean {
  let machine: string | undefined;
  let agent: string | undefined;
  let bridged = false;
  // One pass over the lines after the first (the status line, which nats.js never refuses).
  let start = block.indexOf('\r\n') + 2;
  if (start === 1) start = block.length + 1; // a status line only: no headers
  let colon = -1;
  let oddName = false; // a character nats.js refuses in a name (if the line has a colon)
  for (let i = start; i <= block.length; i++) {
    // The block's end ends its last line, as splitting it does.
    const c = i < block.length ? block.charCodeAt(i) : -1;
    if (c === -1 || (c === 13 && block.charCodeAt(i + 1) === 10)) {
      if (colon >= 0) {
        if (oddName) return false;
        const length = colon - start;
        if (length === 7 && machine === undefined && block.startsWith('machine', start))
          machine = block.slice(colon + 1, i).trim();
        else if (length === 5 && agent === undefined && block.startsWith('agent', start))
          agent = block.slice(colon + 1, i).trim();
        else if (length === BRIDGE_HEADER.length && block.startsWith(BRIDGE_HEADER, start))
          bridged = true;
      }
      start = i + 2;
      i++;
      colon = -1;
      oddName = false;
    } else if (c === 13 || c === 10) {
      return false; // a lone CR or LF: nats.js's to judge
    } else if (colon < 0) {
      if (c === 58) colon = i;
      else if (c < 33 || c > 126) oddName = true;
    }
  }
  out.machine = machine ?? '';
  out.agent = agent ?? '';
  out.bridged = bridged;
  return true;
}
