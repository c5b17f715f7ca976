// The import graph of source/, read from the files themselves: no cycles (type imports count: a
// type cycle is a seam nobody drew), and every import goes in an allowed direction. The layers,
// from the inside out (docs/architecture.md draws them):
//
//   core        pure domain: types, rules, parsers, view models. No I/O, no UI (ESLint also
//               keeps node:fs, ink, nats... out of it). Imports only core.
//   adapters    I/O against one outside thing each (a socket, a file, a process). Core only.
//   stores      live state behind useSyncExternalStore. Core only: what they need from outside
//               comes in as a port (core/seams/: Prober, ErrorSink, Bus, Clock, ...).
//   wiring      the composition root of the live data (wiring/data-plane.ts): builds the
//               adapters and hands them to the stores.
//   actions     operator actions (preview, confirm, run, audit) over adapters and stores.
//   hooks, components, screens
//               the UI: props in, frames out. They read core types and view models only; the
//               live values come in as props from app.tsx, never by importing a store or adapter.
//   app.tsx     the root component; console.tsx builds the stores and renders it.
//   agent, sim  the machine-side daemon and the simulated fleet.
//   commands    the CLI's subcommands; cli.ts registers them.
//
// KNOWN lists the imports that still break a rule, each with why; the test fails on any other,
// and on a KNOWN entry that is gone (delete it: the list only shrinks).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SOURCE = resolve(import.meta.dirname, '../../source');

/** Layer -> the layers it may import (its own is always allowed); eslint.config.js reads it too. */
const { '//': _about, ...MAY_IMPORT } = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../docs/layers.json'), 'utf8'),
) as Record<string, readonly string[]>;

/** Imports that still break a rule: `from -> to` (paths under source/), with why. Empty: keep it so. */
const KNOWN: Record<string, string> = {};

const layerOf = (file: string): string =>
  file.includes('/') ? file.split('/')[0]! : file.replace(/\.tsx?$/, '');

/** Every relative import of every file: static, re-exports, type-only and dynamic. */
function readGraph(): Map<string, string[]> {
  const files = readdirSync(SOURCE, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => f.split('\\').join('/'));
  const byStem = new Map(files.map((f) => [f.replace(/\.tsx?$/, ''), f]));
  const spec =
    /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = new Set<string>();
    for (const m of readFileSync(join(SOURCE, file), 'utf8').matchAll(spec)) {
      const to = m[1] ?? m[2]!;
      if (!to.startsWith('.')) continue;
      const stem = relative(SOURCE, resolve(SOURCE, dirname(file), to))
        .split('\\')
        .join('/')
        .replace(/\.js$/, '');
      // Outside source/ (components/ink-caches.ts reaches into ink's build): not part of it.
      if (stem.startsWith('../')) continue;
      const hit = byStem.get(stem);
      assert.ok(hit, `${file} imports ${to}, which is not a file under source/`);
      deps.add(hit);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph of source/', () => {
  const graph = readGraph();

  test('it reads the files it should (a sanity check on the reader)', () => {
    assert.ok(graph.size > 150, `only ${graph.size} files`);
    assert.ok(graph.get('app.tsx')!.includes('screens/actions.tsx'));
    assert.ok(graph.get('cli.ts')!.includes('commands/ports.ts'), 'dynamic import()s count');
  });

  test('no cycles', () => {
    assert.deepEqual(cycles(graph), []);
  });

  test('the cycle finder finds one (a check on the checker)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    assert.deepEqual(cycles(g), [['a.ts', 'b.ts', 'c.ts']]);
  });

  test('every file is in a layer of the table', () => {
    const unknown = [...new Set([...graph.keys()].map(layerOf))].filter((l) => !MAY_IMPORT[l]);
    assert.deepEqual(unknown, [], 'add the new folder to MAY_IMPORT (and docs/architecture.md)');
  });

  test('no import against the layers, beyond the known ones', () => {
    const against: string[] = [];
    for (const [from, deps] of graph) {
      const layer = layerOf(from);
      for (const to of deps) {
        const target = layerOf(to);
        if (target !== layer && !MAY_IMPORT[layer]!.includes(target))
          against.push(`${from} -> ${to}`);
      }
    }
    const unknown = against.filter((edge) => !(edge in KNOWN));
    const gone = Object.keys(KNOWN).filter((edge) => !against.includes(edge));
    assert.deepEqual(unknown, [], 'an import against the layers (see the table at the top)');
    assert.deepEqual(gone, [], 'fixed: remove these from KNOWN');
  });
});
