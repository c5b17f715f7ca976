// The one model every config shape the fleet has used is loaded into. Everything downstream
// (ports, health, sim, console) reads this, never the YAML.

import { sanitise } from '../errors/sanitise.js';

export interface SourceLoc {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `yaml-syntax`, `duplicate-key`, `port-unresolvable`. */
  code: string;
  message: string;
  loc: SourceLoc;
  /** Dotted path inside the document, e.g. `agent_groups.core.ServiceRegistry.port`. */
  path?: string;
  /** A second place the finding involves (the other duplicate key, the other agent). */
  related?: SourceLoc;
}

export type ShapeId =
  | 'agent-groups' // MainPC: agent_groups map of maps (newest file nests docker_groups inside)
  | 'pc2-agent-groups' // PC2 PR era: agent_groups whose groups carry a non-agent group_config
  | 'pc2-services' // PC2: pc2_services list (+ pc2_network, error_bus_port, docker_groups)
  | 'category-lists' // list era: top-level category lists of flow maps
  | 'core-agents' // one-off: settings + core_agents/memory_agents... with script/health_port/critical
  | 'v3-unified'; // version 3.0 + machine_profiles + agent_groups, with overrides deep-merged

/** A port as written (expression) and as the launcher resolves it. */
export interface Port {
  raw: string | number;
  value: number;
  loc: SourceLoc;
}

export type ImplicitPortKind =
  | 'health' // BaseAgent health socket = port+1 when no health_check_port is configured
  | 'http' // BaseAgent HTTP /health and /metrics = health port + 1
  | 'config'; // a secondary port the agent binds, from config{} (zmq_port, grpc_port, ...)

export interface ImplicitPort {
  kind: ImplicitPortKind;
  /** `http`, `health`, or the config key (`grpc_port`, `pub_address`). */
  key: string;
  value: number;
  /** How it was derived, for the operator: `health_check_port+1`, `config.grpc_port`. */
  rule: string;
  loc: SourceLoc;
}

export interface Agent {
  name: string;
  machine: string;
  group: string;
  scriptPath: string;
  /** Bind host as configured (`0.0.0.0` on PC2); the machine's address is on Machine. */
  host?: string;
  port: Port;
  /** Configured health port, or implicit port+1 (then `healthPortImplicit` is true). */
  healthPort: Port;
  healthPortImplicit: boolean;
  /** Ports the agent binds besides port and health port: HTTP (health+1) and config{} ports. */
  implicitPorts: ImplicitPort[];
  required: boolean;
  dependencies: string[];
  config: Record<string, unknown>;
  /** env_vars / environment from the config; the launcher puts them in the process env. */
  env: Record<string, string>;
  /** params: passed as `--k v` by the launcher. */
  params: Record<string, unknown>;
  description?: string;
  loc: SourceLoc;
}

export interface PortRange {
  start: number;
  end: number;
}

export interface MachineGlobals {
  healthChecks?: { intervalSeconds?: number; timeoutSeconds?: number; retries?: number };
  resourceLimits?: Record<string, unknown>;
  environment?: Record<string, unknown>;
  errorBusPort?: Port;
  network?: { host?: string; agentPorts?: PortRange; healthCheckPorts?: PortRange };
  /** docker_groups: group name -> agent names, wherever the file put them. */
  dockerGroups?: Record<string, { description?: string; agents: string[] }>;
}

export interface Machine {
  id: string;
  /** Address the machine is reached at (MAINPC_IP / PC2_IP, default localhost). */
  host: string;
  agents: Agent[];
  globals: MachineGlobals;
  source: { file: string; shape: ShapeId };
}

export interface FleetModel {
  machines: Machine[];
}

export interface LoadResult {
  /** False when any error diagnostic exists: callers must refuse to act on a half-load. */
  ok: boolean;
  shape?: ShapeId;
  machines: Machine[];
  diagnostics: Diagnostic[];
}

export const hasErrors = (diagnostics: readonly Diagnostic[]): boolean =>
  diagnostics.some((d) => d.severity === 'error');

// The file name as given, made inert: it reaches the screen wherever a finding is located.
export const formatLoc = (loc: SourceLoc): string => `${sanitise(loc.file)}:${loc.line}:${loc.col}`;

export const formatDiagnostic = (d: Diagnostic): string =>
  `${formatLoc(d.loc)}: ${d.severity}: ${d.message}${d.related ? ` (see ${formatLoc(d.related)})` : ''} [${d.code}]`;
