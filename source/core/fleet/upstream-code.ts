// What upstream's code does that its config does not say, read at 598f63af (voice-assistant-prod;
// each entry names where). The simulator reproduces these facts; the prober uses them to send
// each agent only requests its code parses, and to look for an agent where its code really
// binds. Keyed by script path, so a renamed config entry keeps its facts.
import type { Agent } from './model.js';

export interface CodeFacts {
  /**
   * BaseAgent never receives the configured port, so it binds the first free port at or above
   * 5000 (`_find_available_port`), its health socket on that port + 1 and HTTP on + 2. The text
   * says why, for the operator.
   */
  freePort?: string;
  /** The name its health replies carry, when it is not the config's key. */
  selfName?: string;
  /**
   * Its health socket is ResourceManager's own loop (`recv_json()`): a request that is not a JSON
   * object raises before the reply, and the REP socket is wedged until the process restarts.
   * Its main socket (`run`) does the same.
   */
  jsonOnly?: string;
  /** It binds no health port at all (CentralErrorBus): liveness comes from its PUB. */
  noHealthPort?: string;
}

const POSITIONAL =
  'super().__init__(name, port) passes both positionally; BaseAgent reads only keyword arguments';

const BY_SCRIPT: Record<string, CodeFacts> = {
  'main_pc_code/agents/IntentionValidatorAgent.py': { freePort: POSITIONAL },
  'main_pc_code/agents/active_learning_monitor.py': { freePort: POSITIONAL },
  'main_pc_code/agents/DynamicIdentityAgent.py': { freePort: POSITIONAL },
  'main_pc_code/agents/ProactiveAgent.py': { freePort: POSITIONAL },
  'pc2_code/agents/TutoringServiceAgent.py': {
    freePort:
      '_load_config passes the YAML string "${PORT_OFFSET}+7108" as port; int() refuses it and BaseAgent falls back',
  },
  'pc2_code/agents/resource_manager.py': {
    jsonOnly: 'ResourceManager._start_health_check and run() call recv_json()',
  },
  'pc2_code/agents/task_scheduler.py': { selfName: 'TaskSchedulerAgent' },
  'pc2_code/agents/advanced_router.py': { selfName: 'AdvancedRouterAgent' },
  'real_time_audio_pipeline/app.py': { selfName: 'RealTimeAudioPipeline' },
  'services/central_error_bus/error_bus.py': {
    noHealthPort:
      'error_bus.py binds only a SUB on ipc:///tmp/agent_errors, a PUB on the bus port and metrics on 9105',
  },
};

/** The facts for an agent's script (none when opsdeck knows nothing special about it). */
export function codeFacts(agent: Pick<Agent, 'scriptPath'>): CodeFacts {
  return BY_SCRIPT[agent.scriptPath.replace(/^\.\//, '')] ?? {};
}

/** The name an agent's health replies carry. */
export const selfName = (agent: Pick<Agent, 'name' | 'scriptPath'>): string =>
  codeFacts(agent).selfName ?? agent.name;

/** Where `_find_available_port` starts, and how many ports it tries. */
export const FREE_PORT_FROM = 5000;
export const FREE_PORT_TRIES = 100;
