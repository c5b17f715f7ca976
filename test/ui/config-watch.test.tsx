// A config migrated or edited while the console runs: the console re-reads it (ConfigStore), the
// Actions screen stops offering a migration that is done, the scorecard's P1.1 follows, and an
// edit that changes the agents is said at the top of every screen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleActions } from '../../source/actions/catalog.js';
import { ConfigStore } from '../../source/stores/config-store.js';
import { configFiles } from '../../source/adapters/fleet-files.js';
import { renderApp, rigFleet } from '../support/app-rig.js';

const ENV = { MAINPC_IP: '127.0.0.1', PC2_IP: '127.0.0.2' };

describe('config files re-read while the console runs', () => {
  test('the store: canonical after a migration, agents changed said, a broken file said with its place', () => {
    const { machines, dir } = rigFleet();
    const store = new ConfigStore(machines, ENV, configFiles);
    store.check();
    assert.deepEqual(store.getSnapshot(), {
      canonical: { mainpc: true, pc2: false },
      changes: [],
      reloaded: {},
    });
    const pc2 = join(dir, 'pc2.yaml');
    // What a migration writes: the same agents in agent_groups form.
    writeFileSync(
      pc2,
      'agent_groups:\n  pc2_services:\n    Charlie: {script_path: c.py, port: 7105, health_check_port: 8105}\n    ResourceManager: {script_path: pc2_code/agents/resource_manager.py, port: 7113, health_check_port: 8113}\nerror_bus_port: 7150\n',
    );
    store.check();
    assert.equal(store.getSnapshot().canonical.pc2, true);
    assert.deepEqual(store.getSnapshot().changes, [], 'a migration changes no agent');
    // Where the agents are defined now (the detail's "defined at"): the migrated lines.
    const charlie = store.getSnapshot().reloaded.pc2!.agents.find((a) => a.name === 'Charlie')!;
    assert.deepEqual([charlie.loc.line, machines[1]!.agents[0]!.loc.line], [3, 2]);
    assert.equal(store.getSnapshot().reloaded.pc2!.host, machines[1]!.host);
    writeFileSync(
      pc2,
      readFileSync(pc2, 'utf8')
        .replace('port: 7105', 'port: 7205')
        .replace('error_bus_port', '    Delta: {script_path: d.py, port: 7300}\nerror_bus_port'),
    );
    store.check();
    assert.equal(
      store.getSnapshot().reloaded.pc2,
      undefined,
      'agents differ: not shown as defined',
    );
    const [line] = store.getSnapshot().changes;
    assert.match(
      line!,
      /^pc2: .*pc2\.yaml changed since start \(added Delta; ports changed Charlie\): restart the console/,
    );
    writeFileSync(pc2, 'agent_groups:\n  pc2_services: [\n');
    store.check();
    assert.match(
      store.getSnapshot().changes[0]!,
      /no longer loads \(.*pc2\.yaml:\d+:\d+: error: YAML syntax error.*\): still probing the agents loaded at start$/,
    );
    // Nothing changed: no new snapshot, no re-render.
    const before = store.getSnapshot();
    store.check();
    assert.equal(store.getSnapshot(), before);
    store.close();
  });

  test('migrated from screen 5: the row says there is nothing to migrate, P1.1 says yes', async () => {
    const { machines, dir } = rigFleet();
    const config = new ConfigStore(machines, ENV, configFiles);
    config.check();
    const actions = consoleActions({ machines, env: { ...ENV, OPSDECK_SECRETS: join(dir, 's') } });
    const rig = renderApp({
      machines,
      actions,
      auditPath: join(dir, 'audit.jsonl'),
      props: { config },
    });
    try {
      await rig.type('4');
      await rig.until('P1.1 no for pc2', (t) =>
        /pc2 config canonical \(agent_groups\) +no/.test(t),
      );
      await rig.type('5');
      await rig.until('migration offered', (t) =>
        /Migrate pc2's config to agent_groups +rewrite/.test(t),
      );
      // The pc2 row: the second migration row (mainpc's is canonical already).
      await rig.type(':migrate pc2\r');
      await rig.until('preview', (t) => /\+agent_groups:/.test(t));
      await rig.type('y');
      await rig.until('done', (t) => /done: /.test(t));
      config.check();
      await rig.type('\x1b');
      const f = await rig.until('nothing to migrate', (t) =>
        /Migrate pc2's config to agent_groups +unavailable: already canonical/.test(t),
      );
      assert.doesNotMatch(f, /changed since start/);
      await rig.type('\x1b');
      await rig.until('the result closed', (t) => !/target: /.test(t));
      await rig.type('4');
      await rig.until('P1.1 yes', (t) => /pc2 config canonical \(agent_groups\) +yes/.test(t));
    } finally {
      rig.unmount();
      config.close();
    }
  });
});
