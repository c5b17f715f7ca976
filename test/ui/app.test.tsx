// The whole console through its keyboard: one action path from every entry point, and `y`
// accepted only while the action's preview is on screen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { countingAction, renderApp, rigFleet } from '../support/app-rig.js';
import type { ActionCatalog } from '../../source/app.js';

const ESC = '\x1b';

function catalog(...actions: ReturnType<typeof countingAction>[]): ActionCatalog {
  return {
    entries: [
      ...actions.map((a) => ({ id: a.id, title: a.title, what: `does ${a.id}` })),
      { id: 'off', title: 'Test action off', what: 'never', unavailable: 'no NATS configured' },
    ],
    make: (id) => actions.find((a) => a.id === id),
  };
}

const auditLines = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];

describe('one action path (the App, keys as bytes)', () => {
  test('the palette opens the action on screen 5 with its preview in view; y runs it there', async () => {
    const { dir } = rigFleet();
    const a = countingAction('alpha');
    const rig = renderApp({ actions: catalog(a), auditPath: join(dir, 'audit.jsonl') });
    try {
      await rig.type(':alpha\r');
      const f = await rig.until('preview', (t) => t.includes('target: target-of-alpha'));
      assert.match(f, /5 Actions/);
      assert.match(f, /Run "Test action alpha on target-of-alpha"\?/);
      await rig.type('y');
      await rig.until('done', (t) => t.includes('done: alpha ran'));
      assert.equal(a.executed, 1);
      assert.equal(auditLines(join(dir, 'audit.jsonl')).length, 1);
    } finally {
      rig.unmount();
    }
  });

  test('y anywhere but on a visible preview runs nothing and writes no audit line', async () => {
    const { dir } = rigFleet();
    const audit = join(dir, 'audit.jsonl');
    // The preview arrives after the operator has already left screen 5.
    const a = countingAction('slow', { previewDelayMs: 300 });
    const rig = renderApp({ actions: catalog(a), auditPath: audit });
    try {
      await rig.type(':slow\r1');
      await rig.until('preview ready, fleet shown', (t) => /waits for your y on screen 5/.test(t));
      assert.equal(a.previewed, 1);
      // Every screen, its panes, the help, a detail: y does nothing anywhere.
      for (const keys of ['1', '\t', '\t', '2', '3', '\r', ESC, '4', '\r', ESC, '?', ESC, '1']) {
        await rig.type(keys);
        await rig.type('y');
        assert.equal(a.executed, 0, `y after ${JSON.stringify(keys)} ran the action`);
      }
      // y inside the filter and the palette is text.
      await rig.type('/y\r');
      await rig.type(ESC);
      await rig.type(':y');
      assert.match(rig.frame(), /:y/, 'the palette is open with y typed');
      await rig.type(ESC);
      assert.equal(a.executed, 0);
      assert.equal(auditLines(audit).length, 0, 'no line for a preview never confirmed');
      // Back on 5 the preview is what shows; y now confirms it.
      await rig.type('5');
      await rig.until('preview', (t) => t.includes('target: target-of-slow'));
      await rig.type('y');
      await rig.until('done', (t) => t.includes('done: slow ran'));
      assert.equal(a.executed, 1);
    } finally {
      rig.unmount();
    }
  });

  test('an unavailable action chosen from the palette opens its row and says why', async () => {
    const rig = renderApp({ actions: catalog(countingAction('alpha')) });
    try {
      await rig.type(':off\r');
      const f = await rig.until('reason', (t) => t.includes('no NATS configured'));
      assert.match(f, /Test action off: no NATS configured/);
    } finally {
      rig.unmount();
    }
  });

  test('ranking: ":level 2" picks level 2, not the first entry that contains a 2', async () => {
    const levels = [0, 1, 2, 3].map((n) => ({
      ...countingAction(`throttle.pc2.${n}`),
      title: `Throttle PC2: level ${n}`,
    }));
    const rig = renderApp({
      actions: {
        entries: levels.map((l) => ({ id: l.id, title: l.title, what: '' })),
        make: (id) => levels.find((l) => l.id === id),
      },
    });
    try {
      await rig.type(':level 2\r');
      await rig.until('level 2 preview', (t) => t.includes('target: target-of-throttle.pc2.2'));
    } finally {
      rig.unmount();
    }
  });

  test('a long preview: End shows its last line, Home its first', async () => {
    const a = countingAction('long', { lines: 80 });
    const rig = renderApp({ actions: catalog(a), rows: 30 });
    try {
      await rig.type(':long\r');
      await rig.until('preview', (t) => t.includes('line 1 of long'));
      await rig.type('G');
      await rig.until(
        'last line',
        (t) => t.includes('line 80 of long') && !t.includes('line 1 of long'),
      );
      await rig.type('g');
      await rig.until('first line', (t) => t.includes('line 1 of long'));
      await rig.type('n');
      assert.equal(a.executed, 0);
    } finally {
      rig.unmount();
    }
  });

  test('every screen is as tall as the terminal: the key bar is on its last row', async () => {
    const rig = renderApp({ columns: 160, rows: 50 });
    try {
      // What only that screen draws (the rig's fleet is small: few ports, no actions, no errors).
      const marks: Record<string, RegExp> = {
        '2': /PORTS \d+ conflicts/,
        '3': /ERROR STREAM {2}in \d/,
        '4': /P1\.1 +Single config schema/,
        '5': /Enter previews; nothing changes/,
        '1': /MAINPC/,
      };
      for (const [key, mark] of Object.entries(marks)) {
        await rig.type(key);
        const f = await rig.until(`screen ${key}`, (t) => mark.test(t));
        const lines = f.split('\n');
        assert.equal(lines.length, 50, `screen ${key}: ${lines.length} rows`);
        assert.match(lines[49]!, /q quit/, `screen ${key}: the last row is the key bar`);
      }
    } finally {
      rig.unmount();
    }
  });

  test('a preview open on screen 5: the off-screen notice row is not drawn there, and the body takes it', async () => {
    const rig = renderApp({ actions: catalog(countingAction('alpha')), columns: 160, rows: 50 });
    try {
      await rig.type(':alpha\r');
      const f = await rig.until('preview', (t) => t.includes('target: target-of-alpha'));
      const lines = f.split('\n');
      assert.equal(lines.length, 50);
      assert.notEqual(lines[49]!.trim(), '', 'the key bar is on the last row, not a blank one');
    } finally {
      rig.unmount();
    }
  });
});
