// A key's frame is drawn at once, ahead of data frames. Two things held it back, both in Ink:
//  - React rendered what a key changed at default priority: in a Scheduler task (an immediate)
//    after what was queued, while a store's notification (useSyncExternalStore) renders at sync
//    priority in a microtask. A key waited behind the data; React DOM gives a keypress discrete
//    priority, and so does this: Ink's input handlers run in `discreteUpdates`, and React commits
//    what they changed in the microtasks of the very turn that read the input.
//  - Ink draws at most maxFps frames a second: a commit within 1000 / maxFps ms of the last frame
//    waits for the rest of that window on a timer, and meanwhile the event loop runs ingest
//    bursts, store notifications and their data frames (tens of ms each under a flood). So the
//    frames committed in a turn that read input are drawn at once; data frames keep the cap.
// Under a 20k/s flood keys waited one way or the other on most presses (bench/keys.ts).
//
// Ink has no public hook for either: this reaches into Ink's build for its reconciler and for the
// instance drawing to a stdout (as ink-caches.ts does for Output); when Ink's shape is not what
// it expects it changes nothing.

/** Imports a module of Ink's build: the file Ink itself imports (in the bundle too). */
async function inkModule(name: 'instances' | 'reconciler'): Promise<{ default?: unknown }> {
  try {
    return name === 'instances'
      ? await import('../../node_modules/ink/build/instances.js')
      : await import('../../node_modules/ink/build/reconciler.js');
  } catch {
    return (await import(new URL(`./${name}.js`, import.meta.resolve('ink')).href)) as {
      default?: unknown;
    };
  }
}

interface ReconcilerLike {
  batchedUpdates?: unknown;
  discreteUpdates?: unknown;
}

let discrete: Promise<boolean> | undefined;

/**
 * Ink's input handlers (useInput, which Ink runs in `batchedUpdates`) update React at discrete
 * (sync) priority, for every Ink in this process. Resolves false when Ink's build is not as expected.
 */
export function inputIsDiscrete(): Promise<boolean> {
  return (discrete ??= (async () => {
    try {
      const r = (await inkModule('reconciler')).default as ReconcilerLike | undefined;
      const batched = r?.batchedUpdates;
      const discreteUpdates = r?.discreteUpdates;
      if (typeof batched !== 'function' || typeof discreteUpdates !== 'function') return false;
      r!.batchedUpdates = (fn: (a?: unknown) => unknown, a?: unknown) =>
        (discreteUpdates as (f: typeof fn, a?: unknown) => unknown).call(r, fn, a);
      return true;
    } catch {
      return false;
    }
  })());
}

interface InkLike {
  rootNode?: { onRender?: unknown };
  throttledOnRender?: { flush?: unknown };
}

async function inkInstances(): Promise<WeakMap<object, InkLike> | undefined> {
  const mod = await inkModule('instances');
  return mod.default instanceof WeakMap ? (mod.default as WeakMap<object, InkLike>) : undefined;
}

/** The input side of a terminal: what this needs of stdin. */
export interface InputLike {
  on(event: 'readable', listener: () => void): unknown;
  off(event: 'readable', listener: () => void): unknown;
}

/**
 * After input, for this long, a frame that only data changed (a store's notification) is not
 * drawn on its own: the next key's frame, which draws all that was committed, takes it along, or
 * it is drawn when the time is up. While the operator types, a data frame (tens of ms of Ink
 * under a flood) is then never in the way of a key's; when they stop, data is at most this late.
 */
export const INPUT_QUIET_MS = 200;

/**
 * Makes input discrete (inputIsDiscrete) and draws at once every frame React commits in the turn
 * of the event loop that brought input on `stdin` (the Ink instance drawing to `stdout`, rendered
 * before this is called); other frames keep Ink's cap, and wait for `quietMs` after input (see
 * INPUT_QUIET_MS). Resolves to the stop (which draws what is owed); false as `drawn` when Ink's
 * build is not what this expects (then input waits for the cap as before).
 */
export async function drawInputAtOnce(
  stdin: InputLike,
  stdout: object,
  quietMs = INPUT_QUIET_MS,
): Promise<{ drawn: boolean; stop: () => void }> {
  const none = { drawn: false, stop: () => {} };
  let ink: InkLike | undefined;
  try {
    if (!(await inputIsDiscrete())) return none;
    ink = (await inkInstances())?.get(stdout);
  } catch {
    return none;
  }
  const root = ink?.rootNode;
  const throttled = ink?.throttledOnRender;
  const capped = root?.onRender;
  if (!root || typeof capped !== 'function' || typeof throttled?.flush !== 'function') return none;
  const flush = throttled.flush as () => void;
  const draw = () => (capped as () => void).call(root);
  // React commits what input changed (discrete) in a microtask after Ink's 'readable' listener,
  // whichever listener runs first: so the turn is marked, and the commit's own request for a
  // frame is granted at once. The mark ends with the turn (an immediate runs after every
  // microtask), so a data frame later is capped again.
  let inputTurn = false;
  let clearing: NodeJS.Immediate | undefined;
  let quietUntil = 0;
  let owed: NodeJS.Timeout | undefined;
  const payOwed = () => {
    owed = undefined;
    draw();
  };
  root.onRender = () => {
    if (inputTurn) {
      // This frame draws everything committed so far, the data owed too.
      if (owed) clearTimeout(owed);
      owed = undefined;
      draw();
      // Ink queued the frame behind its cap (or drew it, if the cap allowed): draw it now.
      flush.call(throttled);
      return;
    }
    const wait = quietUntil - performance.now();
    if (wait > 0) owed ??= setTimeout(payOwed, wait);
    else draw();
  };
  const onReadable = () => {
    inputTurn = true;
    quietUntil = performance.now() + quietMs;
    clearing ??= setImmediate(() => {
      clearing = undefined;
      inputTurn = false;
    });
  };
  stdin.on('readable', onReadable);
  return {
    drawn: true,
    stop: () => {
      stdin.off('readable', onReadable);
      if (clearing) clearImmediate(clearing);
      inputTurn = false;
      if (root.onRender !== capped) root.onRender = capped;
      if (owed) {
        clearTimeout(owed);
        payOwed();
      }
    },
  };
}
