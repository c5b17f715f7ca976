// Who binds and who connects on the error-bus ports, and whose errors reach anyone: table-driven
// over fleets, env variables, bridges and probe findings. Plus the ZMTP greeting parser.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import {
  buildTopology,
  lostEvenWithBridge,
  lostWithoutBridge,
  type TopologyInput,
} from '../../source/core/errorbus/topology.js';
import {
  GREETING_BYTES,
  holderOfSocketType,
  parseZmtpPeer,
  zmtpGreeting,
} from '../../source/core/errorbus/zmtp.js';

const MAIN = '10.0.0.16';
const PC2 = '10.0.0.17';

const MAINPC_YAML = `agent_groups:
  core:
    Alpha: {script_path: main_pc_code/agents/alpha.py, port: 5701, health_check_port: 6701}
    Tts: {script_path: main_pc_code/agents/streaming_tts_agent.py, port: 5562, health_check_port: 6562}
`;
const pc2Yaml = (opts: { central?: boolean; d?: string[] } = {}) => `pc2_services:
${opts.central === false ? '' : '- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, host: 0.0.0.0, port: 7150, health_check_port: 8150}\n'}- {name: Auth, script_path: pc2_code/agents/ForPC2/AuthenticationAgent.py, host: 0.0.0.0, port: 7116, health_check_port: 8116}
${(opts.d ?? ['Delta'])
  .map(
    (n, i) =>
      `- {name: ${n}, script_path: pc2_code/agents/${n.toLowerCase()}.py, host: 0.0.0.0, port: ${7104 + i * 2}, health_check_port: ${8104 + i * 2}}`,
  )
  .join('\n')}
- {name: Obs, script_path: services/obs/app.py, host: 0.0.0.0, port: 7190, health_check_port: 8190}
error_bus_port: 7150
`;

function fleet(pc2 = pc2Yaml()): Machine[] {
  const env = { MAINPC_IP: MAIN, PC2_IP: PC2 };
  const a = loadConfigText(MAINPC_YAML, 'mainpc.yaml', { env, machine: 'mainpc' });
  const b = loadConfigText(pc2, 'pc2.yaml', { env, machine: 'pc2' });
  assert.ok(a.ok && b.ok, [...a.diagnostics, ...b.diagnostics].map((d) => d.message).join('; '));
  return [...a.machines, ...b.machines];
}

type Verdict = 'nats' | 'zmq' | 'nobody';
interface Case {
  name: string;
  machines?: Machine[];
  env?: Record<string, string>;
  bridges?: string[];
  probes?: TopologyInput['probes'];
  /** `machine/agent[:cross]` -> [without bridge, with bridge, why-pattern] */
  routes: Record<string, [Verdict, Verdict, RegExp?]>;
  /** machine -> bridge plan as `bind host:port` / `connect host:port` */
  plan?: Record<string, string[]>;
  mismatch?: RegExp;
}

const cases: Case[] = [
  {
    // create_mainpc_error_publisher: MAINPC_ERROR_BUS_HOST, else MainPC's own address, where
    // nothing binds 7150 (upstream-protocols b3a, measured on the real agents).
    name: 'upstream defaults: MainPC publishers aim at MainPC, where nothing listens; the bridge recovers them',
    routes: {
      'mainpc/Alpha': [
        'nobody',
        'nats',
        /nothing listens on 10\.0\.0\.16:7150 \(MAINPC_IP \(no MAINPC_ERROR_BUS_HOST\)\)/,
      ],
      'mainpc/Tts': ['nobody', 'nobody', /PUB-PUB/],
      'pc2/Auth': ['nobody', 'nobody', /PUB-PUB/],
      'pc2/Delta': [
        'nobody',
        'nobody',
        /cannot bind 10\.0\.0\.17:7150: CentralErrorBus.* holds it \(EADDRINUSE\)/,
      ],
      'pc2/Delta:cross': [
        'nobody',
        'nobody',
        /cannot bind 10\.0\.0\.16:7150: not an address of pc2 \(EADDRNOTAVAIL\)/,
      ],
      'pc2/Obs': ['zmq', 'nats', /re-publishes/],
    },
    plan: { mainpc: [`bind ${MAIN}:7150`], pc2: [`connect ${PC2}:7150`] },
  },
  {
    name: 'MAINPC_ERROR_BUS_HOST names MainPC: its ErrorPublishers connect where nothing listens; the bridge recovers them',
    env: { MAINPC_ERROR_BUS_HOST: MAIN },
    routes: {
      'mainpc/Alpha': [
        'nobody',
        'nats',
        /nothing listens on 10\.0\.0\.16:7150 \(MAINPC_ERROR_BUS_HOST\)/,
      ],
      'mainpc/Tts': ['nobody', 'nobody', /PUB-PUB/], // C has PC2_IP in its code
      'pc2/Delta:cross': ['nobody', 'nobody', /EADDRNOTAVAIL/],
    },
    plan: { mainpc: [`bind ${MAIN}:7150`] },
  },
  {
    name: 'MAINPC_ERROR_BUS_PORT moves MainPC publishers to a port of their own; ERROR_BUS_HOST does not move them',
    env: { ERROR_BUS_HOST: PC2, MAINPC_ERROR_BUS_PORT: '7160' },
    routes: {
      'mainpc/Alpha': [
        'nobody',
        'nats',
        /10\.0\.0\.16:7160 \(MAINPC_IP \(no MAINPC_ERROR_BUS_HOST\), MAINPC_ERROR_BUS_PORT\)/,
      ],
    },
    plan: { mainpc: [`bind ${MAIN}:7150`, `bind ${MAIN}:7160`] },
  },
  {
    name: 'no CentralErrorBus: the first PC2ErrorPublisher binds 7150; the others fail; ForPC2 meets its PUB',
    machines: fleet(pc2Yaml({ central: false, d: ['Delta', 'Echo'] })),
    routes: {
      'pc2/Delta': ['zmq', 'nats', /bound on 10\.0\.0\.17:7150/],
      'pc2/Echo': [
        'nobody',
        'nobody',
        /cannot bind 10\.0\.0\.17:7150: Delta \(PC2ErrorPublisher PUB\) holds it \(EADDRINUSE\)/,
      ],
      'pc2/Auth': ['nobody', 'nobody', /PC2ErrorPublisher/],
      'pc2/Obs': ['nobody', 'nobody', /no CentralErrorBus on pc2/],
    },
    plan: { pc2: [`connect ${PC2}:7150`] },
  },
  {
    name: 'no CentralErrorBus, no PC2ErrorPublisher: ForPC2 and MainPC publishers connect to nothing; the bridge binds',
    machines: fleet(pc2Yaml({ central: false, d: [] })),
    routes: {
      'pc2/Auth': [
        'nobody',
        'nats',
        /nothing listens on 10\.0\.0\.17:7150 \(PC2_IP, port 7150 fixed\)/,
      ],
      'mainpc/Alpha': ['nobody', 'nats'],
      'mainpc/Tts': ['nobody', 'nats'],
    },
    plan: { pc2: [`bind ${PC2}:7150`] },
  },
  {
    name: 'probe: CentralErrorBus configured but nothing listens (down): the bridge still never binds its port',
    probes: { [`${PC2}:7150`]: { holder: 'none', detail: 'refused' } },
    routes: {
      'pc2/Obs': ['nobody', 'nobody', /nothing listens: it is down/],
      'pc2/Auth': [
        'nobody',
        'nobody',
        /CentralErrorBus's PUB \(tcp:\/\/\*:7150\) is bound there when up/,
      ],
    },
    plan: { pc2: [`connect ${PC2}:7150`] },
    mismatch: /config expects CentralErrorBus.*; the probe found nothing listens/,
  },
  {
    name: 'probe: a SUB bound on MainPC 7150 is the bridge when one runs there',
    env: { MAINPC_ERROR_BUS_HOST: MAIN },
    bridges: ['mainpc'],
    probes: { [`${MAIN}:7150`]: { holder: 'sub' } },
    routes: { 'mainpc/Alpha': ['nobody', 'nats'] },
  },
  {
    name: 'probe: a SUB bound on MainPC 7150 with no bridge running there is some other collector',
    env: { MAINPC_ERROR_BUS_HOST: MAIN },
    probes: { [`${MAIN}:7150`]: { holder: 'sub' } },
    routes: { 'mainpc/Alpha': ['zmq', 'zmq', /a SUB \(probe; another bridge\?\)/] },
    mismatch: /a SUB is bound/,
  },
  {
    name: 'an address outside the fleet reaches no one',
    env: { MAINPC_ERROR_BUS_HOST: '192.168.9.9' },
    routes: {
      'mainpc/Alpha': ['nobody', 'nobody', /192\.168\.9\.9:7150 is no machine of the fleet/],
    },
  },
  {
    name: "localhost means the publisher's own machine",
    env: { MAINPC_ERROR_BUS_HOST: 'localhost' },
    routes: { 'mainpc/Alpha': ['nobody', 'nats', /10\.0\.0\.16:7150/] },
  },
];

describe('error-bus topology', () => {
  for (const c of cases) {
    test(c.name, () => {
      const t = buildTopology({
        machines: c.machines ?? fleet(),
        env: { MAINPC_IP: MAIN, PC2_IP: PC2, ...c.env },
        bridges: c.bridges ?? [],
        ...(c.probes ? { probes: c.probes } : {}),
      });
      for (const [key, [without, withB, why]] of Object.entries(c.routes)) {
        const [who, copy] = key.split(':');
        const [machine, agent] = who!.split('/');
        const r = t.routes.find(
          (x) => x.machine === machine && x.agent === agent && x.copy === (copy ?? 'own'),
        );
        assert.ok(
          r,
          `${key}: no route (routes: ${t.routes.map((x) => `${x.machine}/${x.agent}:${x.copy}`).join(', ')})`,
        );
        assert.equal(
          r.withoutBridge.to,
          without,
          `${key} without the bridge: ${JSON.stringify(r.withoutBridge)}`,
        );
        assert.equal(
          r.withBridge.to,
          withB,
          `${key} with the bridge: ${JSON.stringify(r.withBridge)}`,
        );
        const text = JSON.stringify(withB === 'nobody' ? r.withBridge : r.withoutBridge);
        if (why) assert.match(text, why, key);
        assert.equal(
          r.now.to,
          (c.bridges ?? []).includes(r.bridgeMachine ?? '') ? withB : without,
          `${key} now`,
        );
      }
      for (const [machine, plan] of Object.entries(c.plan ?? {})) {
        assert.deepEqual(
          t.bridgePlan[machine]!.map((p) => `${p.mode} ${p.host}:${p.port}`).sort(),
          [...plan].sort(),
          `${machine} bridge plan`,
        );
      }
      const mismatches = t.ports
        .map((p) => p.mismatch)
        .filter(Boolean)
        .join('; ');
      if (c.mismatch) assert.match(mismatches, c.mismatch);
      else assert.equal(mismatches, '');
    });
  }

  test('lost without the bridge vs lost even with it', () => {
    const t = buildTopology({
      machines: fleet(),
      env: { MAINPC_ERROR_BUS_HOST: MAIN },
      bridges: [],
    });
    assert.deepEqual(
      lostWithoutBridge(t).map((r) => r.agent),
      ['Alpha'],
    );
    assert.deepEqual(
      lostEvenWithBridge(t)
        .map((r) => `${r.agent}:${r.copy}`)
        .sort(),
      ['Auth:own', 'Delta:cross', 'Delta:own', 'Tts:own'],
    );
  });

  test('observed variants override the config guess', () => {
    const t = buildTopology({
      machines: fleet(),
      env: { MAINPC_ERROR_BUS_HOST: MAIN },
      bridges: [],
      variants: { 'pc2/Obs': 'none', 'mainpc/Tts': 'A' },
    });
    assert.equal(
      t.routes.find((r) => r.agent === 'Obs'),
      undefined,
    );
    assert.equal(t.routes.find((r) => r.agent === 'Tts')!.withBridge.to, 'nats');
  });
});

describe('ZMTP greeting and READY', () => {
  const ready = (type: string, long = false): Uint8Array => {
    const name = 'Socket-Type';
    const body = [
      5,
      ...'READY'.split('').map((c) => c.charCodeAt(0)),
      name.length,
      ...name.split('').map((c) => c.charCodeAt(0)),
      0,
      0,
      0,
      type.length,
      ...type.split('').map((c) => c.charCodeAt(0)),
    ];
    return new Uint8Array(
      long ? [0x06, 0, 0, 0, 0, 0, 0, 0, body.length, ...body] : [0x04, body.length, ...body],
    );
  };
  const peer = (mech = 'NULL', minor = 1): Uint8Array => {
    const g = zmtpGreeting();
    g[11] = minor;
    g.fill(0, 12, 32);
    g.set(new TextEncoder().encode(mech), 12);
    return g;
  };
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const rows: Array<[string, Uint8Array, string]> = [
    ['PUB, short READY', cat(peer(), ready('PUB')), 'zmtp 3.1 NULL PUB'],
    ['SUB, long READY', cat(peer(), ready('SUB', true)), 'zmtp 3.1 NULL SUB'],
    ['greeting only: need more', peer(), 'partial'],
    ['half a greeting', peer().subarray(0, 20), 'partial'],
    ['CURVE: no type before a handshake', peer('CURVE'), 'zmtp 3.1 CURVE -'],
    ['HTTP server', new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n'), 'not-zmtp'],
    [
      'bad signature',
      cat(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x11]), new Uint8Array(60)),
      'not-zmtp',
    ],
  ];
  for (const [name, bytes, want] of rows) {
    test(name, () => {
      const p = parseZmtpPeer(bytes);
      const got =
        p.kind === 'zmtp' ? `zmtp ${p.version} ${p.mechanism} ${p.socketType ?? '-'}` : p.kind;
      assert.equal(got, want);
    });
  }
  test('our greeting is 64 bytes, ZMTP 3.0, NULL', () => {
    const g = zmtpGreeting();
    assert.equal(g.length, GREETING_BYTES);
    assert.deepEqual([g[0], g[9], g[10]], [0xff, 0x7f, 3]);
    assert.equal(new TextDecoder().decode(g.subarray(12, 16)), 'NULL');
  });
  test('socket types map to holders', () => {
    assert.deepEqual(['PUB', 'XPUB', 'SUB', 'XSUB', 'REP', undefined].map(holderOfSocketType), [
      'pub',
      'pub',
      'sub',
      'sub',
      'other',
      'other',
    ]);
  });
});
