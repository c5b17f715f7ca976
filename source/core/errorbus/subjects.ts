// NATS subject patterns: `*` matches one token, `>` one or more trailing tokens. Two questions
// the stream rules need: can one message match both patterns (overlap), and does every subject
// one pattern matches also match another (within).

const tokens = (subject: string): string[] => subject.split('.');

/** True if some concrete subject matches both patterns (what nats-server refuses across streams). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return p === undefined && q === undefined;
    if (p === '>' || q === '>') return true; // the other has a token here, so `>` has its one or more
    if (p !== '*' && q !== '*' && p !== q) return false;
  }
}

/** True if every subject `inner` matches is also matched by `outer` (`errors.agents.*` within `errors.>`). */
export function subjectWithin(inner: string, outer: string): boolean {
  const x = tokens(inner);
  const y = tokens(outer);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (q === undefined) return p === undefined;
    if (p === undefined) return false;
    if (q === '>') return true;
    if (p === '>') return false; // inner takes any tail; outer only a fixed number of tokens
    if (q === '*') continue; // a literal or `*` in inner: one token, which `*` takes
    if (p !== q) return false; // includes inner `*` against a literal
  }
}
