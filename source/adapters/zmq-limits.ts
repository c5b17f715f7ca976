// The largest message each kind of ZMQ socket opsdeck opens accepts (libzmq's maxMessageSize).
// Without it libzmq buffers a frame whole before anyone can look at its size: two 500 MB frames
// to the bridge's SUB took it from 75 MB to 1.05 GB RSS. Past the cap libzmq drops the
// connection as soon as the frame's header announces the size, before reading its body; a SUB
// reconnects (the error store shows the outage as a gap), a REQ times out.

const MiB = 1024 * 1024;

export const ZMQ_MAX_MESSAGE = {
  /**
   * Error-bus frames (the console's SUBs, the bridge's): above the decoder's own limit
   * (MAX_FRAME_BYTES, 256 KiB) and the simulator's 2 MiB "oversize" fault, so frames that big
   * still arrive and are counted as malformed; nothing of the fleet sends more than kilobytes.
   */
  errors: 4 * MiB,
  /** Health and ResourceManager replies, sim control requests: a few kilobytes in practice. */
  reply: 1 * MiB,
} as const;
