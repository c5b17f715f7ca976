// The loader: one function from a config text (plus, for v3, its override texts) to machines
// and agents, with every problem reported as a located diagnostic. Pure: the caller reads files.
import type {
  Agent,
  Diagnostic,
  ImplicitPort,
  LoadResult,
  Machine,
  MachineGlobals,
  Port,
  ShapeId,
} from './model.js';
import { hasErrors } from './model.js';
import { sanitise } from '../errors/sanitise.js';
import { bindAddressPort, resolvePort, type Env } from './port-expr.js';
import {
  detectShape,
  extract,
  isDict,
  kindOf,
  KNOWN_SHAPES,
  type Dict,
  type RawAgent,
} from './shapes.js';
import { parseYaml, pathKey, type ParsedSource, type PathPart } from './yaml-source.js';

export interface LoadOptions {
  env: Env;
  /** Machine the file describes; default from the shape (pc2_services -> pc2, else mainpc). */
  machine?: string;
  /** v3 only: parsed override documents by machine (and `docker` etc. by CONFIG_OVERRIDE). */
  overrides?: Record<string, ParsedSource>;
}

export function loadConfigText(text: string, file: string, options: LoadOptions): LoadResult {
  return loadParsed(parseYaml(text, file), options);
}

export function loadParsed(source: ParsedSource, options: LoadOptions): LoadResult {
  const diagnostics = [...source.diagnostics];
  const fail = (): LoadResult => ({ ok: false, machines: [], diagnostics });
  if (hasErrors(diagnostics)) return fail();
  const data = source.data;
  if (!isDict(data)) {
    diagnostics.push({
      severity: 'error',
      code: 'unknown-shape',
      message:
        data === null || data === undefined
          ? 'the file is empty: expected a fleet config'
          : `the document is ${kindOf(data)}: expected a mapping with ${KNOWN_SHAPES}`,
      loc: { file: source.file, line: 1, col: 1 },
    });
    return fail();
  }
  const shape = detectShape(data);
  if (!shape) {
    const keys = Object.keys(data);
    diagnostics.push({
      severity: 'error',
      code: 'unknown-shape',
      message: `unknown config shape: top-level keys seen: ${keys.length ? keys.join(', ') : '(none)'}; expected ${KNOWN_SHAPES}`,
      loc: { file: source.file, line: 1, col: 1 },
    });
    return fail();
  }
  const found = extract(source, data, shape, diagnostics);

  let machines: Machine[];
  if (found.profiles) {
    machines = Object.entries(found.profiles).map(([id, groups]) => {
      const enabled = new Set(groups);
      for (const g of groups) {
        if (!found.agents.some((a) => a.group === g)) {
          diagnostics.push({
            severity: 'warning',
            code: 'unknown-group',
            message: `machine_profiles.${id} enables group "${g}", which has no agents in agent_groups`,
            loc: source.locate(['machine_profiles', id]),
          });
        }
      }
      const raws = found.agents.filter((a) => enabled.has(a.group));
      return buildMachine(
        id,
        source,
        shape,
        raws,
        cloneGlobals(found.globals),
        options,
        diagnostics,
        options.overrides?.[id],
      );
    });
  } else {
    const id = options.machine ?? found.defaultMachine;
    machines = [buildMachine(id, source, shape, found.agents, found.globals, options, diagnostics)];
  }
  return { ok: !hasErrors(diagnostics), shape, machines, diagnostics };
}

function buildMachine(
  id: string,
  source: ParsedSource,
  shape: ShapeId,
  raws: RawAgent[],
  globals: MachineGlobals,
  options: LoadOptions,
  diagnostics: Diagnostic[],
  override?: ParsedSource,
): Machine {
  const ov = override && isDict(override.data) ? override.data : undefined;
  if (ov) applyOverrideGlobals(globals, ov);
  const disabled = new Set(
    ov && Array.isArray(ov.disabled_agents)
      ? ov.disabled_agents.filter((a) => typeof a === 'string')
      : [],
  );
  const overrideAgents = ov && isDict(ov.agents) ? ov.agents : {};

  const byName = new Map<string, Agent>();
  for (const raw of raws) {
    if (disabled.has(raw.name)) continue;
    const agentOverride = overrideAgents[raw.name];
    const entry =
      isDict(agentOverride) &&
      isDict(agentOverride.config) &&
      (raw.entry.config === undefined || isDict(raw.entry.config))
        ? {
            ...raw.entry,
            config: deepMerge(raw.entry.config ?? {}, agentOverride.config),
          }
        : raw.entry;
    const built = buildAgent({ ...raw, entry }, id, source, options.env, diagnostics);
    if (!built) continue;
    const agent = inert(built, diagnostics);
    const earlier = byName.get(agent.name);
    if (earlier) {
      diagnostics.push({
        severity: 'warning',
        code: 'duplicate-agent',
        message: `agent "${agent.name}" is defined twice on ${id} (groups "${earlier.group}" and "${agent.group}"): the last one wins, as upstream's launcher does`,
        loc: agent.loc,
        related: earlier.loc,
        path: pathKey(raw.path),
      });
      byName.delete(agent.name); // keep definition order of the winner
    }
    byName.set(agent.name, agent);
  }

  const errorBus = readErrorBusPort(source, options.env, diagnostics);
  if (errorBus) globals.errorBusPort = errorBus;
  return {
    id,
    host: hostFor(id, options.env),
    agents: [...byName.values()],
    globals,
    source: { file: source.file, shape },
  };
}

/** MAINPC_IP / PC2_IP with upstream's legacy names (env_standardizer.py), default localhost. */
export function hostFor(machine: string, env: Env): string {
  const names =
    machine === 'mainpc'
      ? ['MAINPC_IP', 'MAIN_PC_IP', 'MAINPC_HOST', 'MAIN_PC_HOST']
      : machine === 'pc2'
        ? ['PC2_IP', 'PC2_HOST']
        : [`${machine.toUpperCase()}_IP`, `${machine.toUpperCase()}_HOST`];
  for (const name of names) {
    const value = env[name];
    if (value) return value;
  }
  return 'localhost';
}

function readErrorBusPort(
  source: ParsedSource,
  env: Env,
  diagnostics: Diagnostic[],
): Port | undefined {
  const data = source.data as Dict;
  const settings = isDict(data.settings) ? data.settings : {};
  const path: PathPart[] =
    data.error_bus_port !== undefined ? ['error_bus_port'] : ['settings', 'error_bus_port'];
  const raw = data.error_bus_port ?? settings.error_bus_port;
  if (raw === undefined) return undefined;
  const loc = source.locate(path);
  const result = resolvePort(raw, env);
  if (!result.ok) {
    diagnostics.push({
      severity: 'error',
      code: 'port-unresolvable',
      message: `error_bus_port: ${result.reason}`,
      loc,
      path: pathKey(path),
    });
    return undefined;
  }
  return { raw: raw as string | number, value: result.value, loc };
}

// config{} keys that name a port the agent connects to, not one it binds.
const CLIENT_PORT =
  /^(redis|db|database|postgres|mysql|nats|mongo|kafka|target|upstream|remote|mainpc|pc2|peer|server)_/;

// Long: one check per field of an agent entry, in the order the launcher reads them; each collects
// its own diagnostic.
function buildAgent(
  raw: RawAgent,
  machine: string,
  source: ParsedSource,
  env: Env,
  diagnostics: Diagnostic[],
): Agent | undefined {
  const { entry, path, name } = raw;
  const at = (...rest: PathPart[]) => source.locate([...path, ...rest]);
  const errors: Diagnostic[] = [];
  const error = (code: string, field: PathPart[], message: string) =>
    errors.push({
      severity: 'error',
      code,
      message: `${name}: ${message}`,
      loc: at(...field),
      path: pathKey([...path, ...field]),
    });

  const scriptKey = 'script_path' in entry ? 'script_path' : 'script';
  const scriptPath = entry[scriptKey];
  if (typeof scriptPath !== 'string' || scriptPath === '')
    error(
      'wrong-type',
      [scriptKey],
      `${scriptKey} must be a path string, got ${kindOf(scriptPath)}`,
    );

  const port = (field: string): Port | undefined => {
    const value = entry[field];
    const result = resolvePort(value, env);
    if (!result.ok) {
      error(
        Array.isArray(value) || isDict(value) ? 'wrong-type' : 'port-unresolvable',
        [field],
        `${field}: ${result.reason}`,
      );
      return undefined;
    }
    return { raw: value as string | number, value: result.value, loc: at(field) };
  };
  let mainPort: Port | undefined;
  if (entry.port === undefined || entry.port === null)
    error(
      'missing-port',
      [],
      'has no port (the launcher passes --port; expected port: N or ${PORT_OFFSET}+N)',
    );
  else mainPort = port('port');

  const healthKey =
    'health_check_port' in entry
      ? 'health_check_port'
      : 'health_port' in entry
        ? 'health_port'
        : undefined;
  const configuredHealth = healthKey && entry[healthKey] !== null ? port(healthKey) : undefined;

  const requiredKey =
    'required' in entry ? 'required' : 'critical' in entry ? 'critical' : undefined;
  const required = requiredKey ? entry[requiredKey] : false;
  if (typeof required !== 'boolean')
    error(
      'wrong-type',
      [requiredKey!],
      `${requiredKey} must be true or false, got ${kindOf(required)}`,
    );

  const deps = entry.dependencies ?? [];
  if (!Array.isArray(deps) || !deps.every((d) => typeof d === 'string')) {
    error(
      'wrong-type',
      ['dependencies'],
      `dependencies must be a list of agent names, got ${kindOf(deps)}`,
    );
  }
  const config = entry.config ?? {};
  if (!isDict(config))
    error('wrong-type', ['config'], `config must be a mapping, got ${kindOf(config)}`);
  const envKey = 'env_vars' in entry ? 'env_vars' : 'environment';
  const envVars = entry[envKey] ?? {};
  if (!isDict(envVars))
    error('wrong-type', [envKey], `${envKey} must be a mapping, got ${kindOf(envVars)}`);
  const params = entry.params ?? {};
  if (!isDict(params))
    error('wrong-type', ['params'], `params must be a mapping, got ${kindOf(params)}`);
  if (entry.host !== undefined && typeof entry.host !== 'string')
    error('wrong-type', ['host'], `host must be a string, got ${kindOf(entry.host)}`);

  const implicitPorts: ImplicitPort[] = [];
  if (isDict(config)) {
    for (const [key, value] of Object.entries(config)) {
      if (/_port$/.test(key) && !CLIENT_PORT.test(key)) {
        const result = resolvePort(value, env);
        if (result.ok)
          implicitPorts.push({
            kind: 'config',
            key,
            value: result.value,
            rule: `config.${key}`,
            loc: at('config', key),
          });
        else
          error(
            Array.isArray(value) || isDict(value) ? 'wrong-type' : 'port-unresolvable',
            ['config', key],
            `config.${key}: ${result.reason}`,
          );
      } else if (/_address$/.test(key)) {
        const bound = bindAddressPort(value);
        if (bound !== undefined)
          implicitPorts.push({
            kind: 'config',
            key,
            value: bound,
            rule: `config.${key} (${String(value)})`,
            loc: at('config', key),
          });
      }
    }
  }

  diagnostics.push(...errors);
  if (errors.length > 0 || !mainPort) return undefined;

  const healthImplicit = configuredHealth === undefined;
  const healthPort: Port = configuredHealth ?? {
    raw: `port+1`,
    value: mainPort.value + 1,
    loc: mainPort.loc,
  };
  if (healthImplicit) {
    implicitPorts.unshift({
      kind: 'health',
      key: 'health',
      value: healthPort.value,
      rule: 'port+1 (BaseAgent default health port)',
      loc: mainPort.loc,
    });
  }
  implicitPorts.unshift({
    kind: 'http',
    key: 'http',
    value: healthPort.value + 1,
    rule: 'health_check_port+1 (BaseAgent HTTP /health, /metrics)',
    loc: healthPort.loc,
  });

  return {
    name,
    machine,
    group: raw.group,
    scriptPath: scriptPath as string,
    ...(typeof entry.host === 'string' ? { host: entry.host } : {}),
    port: mainPort,
    healthPort,
    healthPortImplicit: healthImplicit,
    implicitPorts,
    required: required as boolean,
    dependencies: deps as string[],
    config: config as Dict,
    env: Object.fromEntries(Object.entries(envVars as Dict).map(([k, v]) => [k, String(v)])),
    params: params as Dict,
    ...(typeof entry.description === 'string' ? { description: entry.description } : {}),
    loc: source.locate(path),
  };
}

/**
 * The agent's text as a terminal may show it: a name like `"Evil\e]0;pwned\a"` (YAML escapes
 * are legal) renamed the operator's tmux pane through every command that printed it. Control
 * characters and bidi overrides are removed from the names and paths opsdeck shows and compares
 * (errors from the wire are matched on their sanitised names too), and the file is warned about.
 */
function inert(agent: Agent, diagnostics: Diagnostic[]): Agent {
  const fields: Record<string, readonly string[]> = {
    name: [agent.name],
    group: [agent.group],
    script_path: [agent.scriptPath],
    host: agent.host !== undefined ? [agent.host] : [],
    description: agent.description !== undefined ? [agent.description] : [],
    dependencies: agent.dependencies,
  };
  const unsafe = Object.entries(fields).filter(([, v]) => v.some((s) => sanitise(s) !== s));
  if (unsafe.length === 0) return agent;
  const safe: Agent = {
    ...agent,
    name: sanitise(agent.name),
    group: sanitise(agent.group),
    scriptPath: sanitise(agent.scriptPath),
    ...(agent.host !== undefined ? { host: sanitise(agent.host) } : {}),
    ...(agent.description !== undefined ? { description: sanitise(agent.description) } : {}),
    dependencies: agent.dependencies.map(sanitise),
  };
  diagnostics.push({
    severity: 'warning',
    code: 'unsafe-text',
    message: `agent "${safe.name}": ${unsafe.map(([k]) => k).join(', ')} hold terminal control characters or bidi overrides; opsdeck shows and matches them without (upstream would print them raw)`,
    loc: agent.loc,
  });
  return safe;
}

function applyOverrideGlobals(globals: MachineGlobals, ov: Dict): void {
  if (isDict(ov.resource_limits))
    globals.resourceLimits = { ...globals.resourceLimits, ...ov.resource_limits };
  if (isDict(ov.environment)) globals.environment = { ...globals.environment, ...ov.environment };
  const hc = ov.health_checks;
  if (isDict(hc)) {
    const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
    globals.healthChecks = {
      ...globals.healthChecks,
      ...defined({
        intervalSeconds: n(hc.interval_seconds ?? hc.interval),
        timeoutSeconds: n(hc.timeout_seconds ?? hc.timeout),
        retries: n(hc.retries),
      }),
    };
  }
}

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function deepMerge(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isDict(b) && isDict(v) ? deepMerge(b, v) : v;
  }
  return out;
}

const cloneGlobals = (g: MachineGlobals): MachineGlobals => structuredClone(g);
