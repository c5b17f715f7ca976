// A key's frame is drawn at once, not after Ink's frame cap. Ink draws at most maxFps frames a
// second: a commit within 1000 / maxFps ms of the last frame waits for the rest of that window on
// a timer, and while it waits the event loop runs what is queued first: ingest bursts, store
// notifications and their data frames (tens of ms each under a flood). Under a 20k/s flood a key
// waited that way about one press in ten (bench/keys.ts). Input is what the operator waits on,
// so once Ink has handled a chunk of input (its 'readable' listener renders React at once, in
// legacy mode), the frame that input committed is drawn in the same turn. Data frames keep the cap.
//
// Ink has no public hook for this: it reaches into Ink's build for the instance drawing to a
// stdout (as ink-caches.ts does for Output); when Ink's shape is not what it expects it changes
// nothing.

interface InkLike {
  hasPendingThrottledRender?: unknown;
  throttledOnRender?: { flush?: unknown };
}

async function inkInstances(): Promise<WeakMap<object, InkLike> | undefined> {
  let mod: { default?: unknown };
  try {
    mod = (await import('../../node_modules/ink/build/instances.js')) as { default?: unknown };
  } catch {
    mod = (await import(new URL('./instances.js', import.meta.resolve('ink')).href)) as {
      default?: unknown;
    };
  }
  return mod.default instanceof WeakMap ? (mod.default as WeakMap<object, InkLike>) : undefined;
}

/** The input side of a terminal: what this needs of stdin. */
export interface InputLike {
  on(event: 'readable', listener: () => void): unknown;
  off(event: 'readable', listener: () => void): unknown;
}

/**
 * After each chunk of input on `stdin`, draws at once the frame Ink holds back for its frame cap
 * (the Ink instance drawing to `stdout`, rendered before this is called). Resolves to the stop;
 * false as `drawn` when Ink's build is not what this expects (then input waits for the cap).
 */
export async function drawInputAtOnce(
  stdin: InputLike,
  stdout: object,
): Promise<{ drawn: boolean; stop: () => void }> {
  const none = { drawn: false, stop: () => {} };
  let ink: InkLike | undefined;
  try {
    ink = (await inkInstances())?.get(stdout);
  } catch {
    return none;
  }
  const throttled = ink?.throttledOnRender;
  if (!ink || typeof throttled?.flush !== 'function' || !('hasPendingThrottledRender' in ink))
    return none;
  const flush = throttled.flush as () => void;
  let queued = false;
  const draw = () => {
    queued = false;
    if (ink.hasPendingThrottledRender === true) flush.call(throttled);
  };
  // Ink reads and handles the input in its own 'readable' listener, whichever of the two runs
  // first: a microtask runs after both, once React has committed what the input changed.
  const onReadable = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(draw);
  };
  stdin.on('readable', onReadable);
  return { drawn: true, stop: () => void stdin.off('readable', onReadable) };
}
