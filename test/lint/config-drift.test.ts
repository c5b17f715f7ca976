import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfigDrift } from '../../source/core/lint/config-drift.js';
import { brief, index, machineFrom, py } from './helpers.js';

const fleet = machineFrom(
  `
  agent_groups:
    language:
      NLUAgent:
        script_path: main_pc_code/agents/nlu_agent.py
        port: \${PORT_OFFSET}+5709
        health_check_port: \${PORT_OFFSET}+6709
  `,
  'mainpc',
);
const nlu = fleet.agents;
const run = async (text: string, agents = nlu) => checkConfigDrift(await index(text), agents);

describe('config-drift', () => {
  test("upstream's NLUAgent shape: port from load_config() with fallback 5558, --port never read", async () => {
    const findings = await run(py`
      from common.core.base_agent import BaseAgent
      from main_pc_code.utils.config_loader import load_config
      config = load_config()
      class NLUAgent(BaseAgent):
          def __init__(self, port: int = None, name: str = None, **kwargs):
              agent_port = int(config.get("port", 5558)) if port is None else int(port)
              super().__init__(port=agent_port, name="NLUAgent")
      if __name__ == "__main__":
          agent = NLUAgent()
          agent.run()
    `);
    assert.deepEqual(brief(findings), ['7:config-drift:warning']);
    assert.match(
      findings[0]!.message,
      /takes its port from config\.get\("port", 5558\), and the script never reads the launcher's --port or AGENT_PORT/,
    );
    assert.match(
      findings[0]!.message,
      /without the key it binds 5558, but the config says 5709 for NLUAgent on mainpc/,
    );
  });

  test('the same script reading parse_agent_args() is fine', async () => {
    assert.deepEqual(
      await run(py`
        from main_pc_code.utils.config_loader import load_config, parse_agent_args
        config = load_config()
        _args = parse_agent_args()
        class NLUAgent(BaseAgent):
            def __init__(self, port=None):
                super().__init__(port=int(config.get("port", 5558)) if port is None else port, name="n")
        if __name__ == "__main__":
            NLUAgent(port=_args.port)
      `),
      [],
    );
  });

  test('a ${PORT_OFFSET}+N string reaching port= is an error', async () => {
    const findings = await run(py`
      DEFAULT_PORT = "\${PORT_OFFSET}+5709"
      class NLUAgent(BaseAgent):
          def __init__(self, port=DEFAULT_PORT):
              super().__init__(name="NLUAgent", port=port)
      if __name__ == "__main__":
          NLUAgent()
    `);
    assert.deepEqual(brief(findings), ['4:config-drift:error']);
    assert.match(findings[0]!.message, /passes the string "\$\{PORT_OFFSET\}\+5709" as port=/);
  });

  test('a literal port that differs from the config is a warning; the same port is not', async () => {
    const differs = await run(py`
      class NLUAgent(BaseAgent):
          def __init__(self, port: int = 5558):
              super().__init__(name="NLUAgent", port=port)
      if __name__ == "__main__":
          NLUAgent()
    `);
    assert.deepEqual(brief(differs), ['3:config-drift:warning']);
    assert.match(differs[0]!.message, /NLUAgent binds 5558, but the config says 5709/);
    const same = await run(py`
      class NLUAgent(BaseAgent):
          def __init__(self, port: int = 5558):
              super().__init__(name="NLUAgent", port=port)
      if __name__ == "__main__":
          NLUAgent(port=5709)
    `);
    assert.deepEqual(same, []);
  });

  test('positional arguments to BaseAgent are ignored (first free port >= 5000)', async () => {
    const findings = await run(py`
      class ObservabilityHub(BaseAgent):
          def __init__(self, name="ObservabilityHub", port=9000):
              super().__init__(name, port)
      if __name__ == "__main__":
          ObservabilityHub()
    `);
    assert.deepEqual(brief(findings), ['3:config-drift:warning']);
    assert.match(
      findings[0]!.message,
      /positional arguments \(name, port\), which BaseAgent ignores: it binds the first free port >= 5000, but the config says 5709/,
    );
  });

  test('an env var other than AGENT_PORT with a fallback is compared; AGENT_PORT is the launcher', async () => {
    const findings = await run(py`
      import os
      class NLUAgent(BaseAgent):
          def __init__(self):
              super().__init__(name="n", port=int(os.getenv("NLU_PORT", 5600)))
      class Other(BaseAgent):
          def __init__(self):
              super().__init__(name="o", port=int(os.environ.get("AGENT_PORT", 1)))
      if __name__ == "__main__":
          NLUAgent()
          Other()
    `);
    assert.deepEqual(brief(findings), ['4:config-drift:warning']);
    assert.match(findings[0]!.message, /binds 5600 unless NLU_PORT is set/);
  });

  test('a fixed bind() port the config does not list; listed ones and computed ones pass', async () => {
    const findings = await run(py`
      class X:
          def setup(self):
              self.a.bind("tcp://*:5709")
              self.b.bind("tcp://*:6710")
              self.c.bind(f"tcp://*:{self.port + 1}")
              self.d.bind("tcp://*:5999")
    `);
    assert.deepEqual(brief(findings), ['6:config-drift:warning']);
  });

  test('without a fleet config only the config-independent findings remain', async () => {
    const findings = await run(
      py`
        class NLUAgent(BaseAgent):
            def __init__(self):
                super().__init__(name="n", port="\${PORT_OFFSET}+5709")
                self.s.bind("tcp://*:5999")
        if __name__ == "__main__":
            NLUAgent()
      `,
      [],
    );
    assert.deepEqual(brief(findings), ['3:config-drift:error']);
  });
});
