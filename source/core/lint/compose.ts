// docker-compose files as the lint rules see them: services with their image, ports, env,
// volumes and health check, each with file:line. Read by the one YAML reader in compose's dialect
// (YAML 1.2: a service called `off` stays `off`), with merge keys, which compose files use for
// shared health settings.
import type { Diagnostic, SourceLoc } from '../fleet/model.js';
import { parseYaml, type PathPart } from '../fleet/yaml-source.js';
import { textOf } from '../text.js';

export interface ComposePort {
  raw: string;
  /** Port inside the container (first of a range). */
  container?: number;
  /** Published port on the host, when one is given. */
  host?: number;
  loc: SourceLoc;
}

export interface ComposeVolume {
  raw: string;
  /** Named volume or host path (host paths as written: `./data`, `../../data`). */
  source: string;
  target: string;
  readOnly: boolean;
  named: boolean;
  loc: SourceLoc;
}

export interface ComposeHealth {
  /** The test as one shell-ish line (array form joined), without CMD / CMD-SHELL. */
  command: string;
  disabled: boolean;
  loc: SourceLoc;
  testLoc: SourceLoc;
}

export interface ComposeService {
  name: string;
  loc: SourceLoc;
  image?: string;
  /** Build context + dockerfile, as one comparable string. */
  build?: string;
  command?: string;
  ports: ComposePort[];
  env: Record<string, string>;
  volumes: ComposeVolume[];
  health?: ComposeHealth;
  /** depends_on entries that wait for `service_healthy`. */
  waitsHealthy: { service: string; loc: SourceLoc }[];
  replicas?: number;
  /** The service as plain data, for field-by-field comparison. */
  data: Record<string, unknown>;
}

export interface ComposeFile {
  file: string;
  services: ComposeService[];
  /** YAML errors (the file is then empty) and duplicate keys. */
  diagnostics: Diagnostic[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const scalar = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : undefined;

export function parseCompose(text: string, file: string): ComposeFile {
  const source = parseYaml(text, file, 'compose');
  const out: ComposeFile = { file, services: [], diagnostics: source.diagnostics };
  if (source.data === undefined) return out;
  if (!isRecord(source.data) || !isRecord(source.data.services)) {
    if (!(isRecord(source.data) && source.data.services === undefined)) {
      out.diagnostics.push({
        severity: 'error',
        code: 'compose-shape',
        message: `${file} has no "services" map: not a compose file this lint understands`,
        loc: source.locate(['services']),
      });
    }
    return out;
  }
  for (const [name, raw] of Object.entries(source.data.services)) {
    const at = (...path: PathPart[]) => source.locate(['services', name, ...path]);
    const data = isRecord(raw) ? raw : {};
    out.services.push({
      name,
      loc: at(),
      image: scalar(data.image),
      build: buildOf(data.build),
      command: commandOf(data.command),
      ports: portsOf(data.ports, (i) => at('ports', i)),
      env: envOf(data.environment),
      volumes: volumesOf(data.volumes, (i) => at('volumes', i)),
      health: healthOf(data.healthcheck, at('healthcheck'), at('healthcheck', 'test')),
      waitsHealthy: waitsOf(data.depends_on, (dep) => at('depends_on', dep)),
      replicas:
        isRecord(data.deploy) && typeof data.deploy.replicas === 'number'
          ? data.deploy.replicas
          : undefined,
      data,
    });
  }
  return out;
}

function buildOf(build: unknown): string | undefined {
  if (typeof build === 'string') return build;
  if (!isRecord(build)) return undefined;
  return [scalar(build.context) ?? '.', scalar(build.dockerfile), scalar(build.target)]
    .filter(Boolean)
    .join(' ');
}

function commandOf(command: unknown): string | undefined {
  if (typeof command === 'string') return command;
  if (Array.isArray(command)) return command.map((c) => scalar(c) ?? '').join(' ');
  return undefined;
}

const NUM = /^\d+$/;

/** `8080`, `8080:80`, `127.0.0.1:8080:80`, `8000-8010:8000-8010/tcp`, or the long form. */
export function parsePort(raw: string): { container?: number; host?: number } {
  const spec = raw.split('/')[0]!.trim();
  const parts = spec.split(':');
  const first = (s: string | undefined) => {
    const head = s?.split('-')[0]?.trim();
    return head && NUM.test(head) ? Number(head) : undefined;
  };
  const container = first(parts[parts.length - 1]);
  const host = parts.length >= 2 ? first(parts[parts.length - 2]) : undefined;
  return { container, host };
}

function portsOf(ports: unknown, loc: (i: number) => SourceLoc): ComposePort[] {
  if (!Array.isArray(ports)) return [];
  return ports.map((p, i) => {
    if (isRecord(p)) {
      const target = Number(p.target);
      const published = Number(textOf(p.published).split('-')[0]);
      return {
        raw: JSON.stringify(p),
        container: Number.isInteger(target) ? target : undefined,
        host: Number.isInteger(published) && published > 0 ? published : undefined,
        loc: loc(i),
      };
    }
    const raw = scalar(p) ?? '';
    return { raw, ...parsePort(raw), loc: loc(i) };
  });
}

function envOf(env: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const s = scalar(item);
      if (s === undefined) continue;
      const eq = s.indexOf('=');
      if (eq === -1) out[s] = '';
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
  } else if (isRecord(env)) {
    for (const [k, v] of Object.entries(env)) out[k] = scalar(v) ?? '';
  }
  return out;
}

function volumesOf(volumes: unknown, loc: (i: number) => SourceLoc): ComposeVolume[] {
  if (!Array.isArray(volumes)) return [];
  const out: ComposeVolume[] = [];
  volumes.forEach((v, i) => {
    if (isRecord(v)) {
      const source = scalar(v.source) ?? '';
      const target = scalar(v.target) ?? '';
      if (!target) return;
      out.push({
        raw: JSON.stringify(v),
        source,
        target,
        readOnly: v.read_only === true,
        named: v.type === 'volume' || isNamed(source),
        loc: loc(i),
      });
      return;
    }
    const raw = scalar(v);
    if (!raw) return;
    const parts = raw.split(':');
    if (parts.length < 2) return; // anonymous volume: nothing shared
    const [source, target, mode] = parts as [string, string, string | undefined];
    out.push({
      raw,
      source,
      target,
      readOnly: (mode ?? '').split(',').includes('ro'),
      named: isNamed(source),
      loc: loc(i),
    });
  });
  return out;
}

const isNamed = (source: string) => source !== '' && !/^[./~$]/.test(source);

function healthOf(health: unknown, loc: SourceLoc, testLoc: SourceLoc): ComposeHealth | undefined {
  if (!isRecord(health)) return undefined;
  let command = '';
  let disabled = health.disable === true;
  const test = health.test;
  if (Array.isArray(test)) {
    const words = test.map((t) => scalar(t) ?? '');
    if (words[0] === 'NONE') disabled = true;
    command = (words[0] === 'CMD' || words[0] === 'CMD-SHELL' ? words.slice(1) : words).join(' ');
  } else if (typeof test === 'string') {
    command = test;
  }
  return { command, disabled, loc, testLoc };
}

function waitsOf(
  deps: unknown,
  loc: (dep: string) => SourceLoc,
): { service: string; loc: SourceLoc }[] {
  if (!isRecord(deps)) return [];
  return Object.entries(deps)
    .filter(([, v]) => isRecord(v) && v.condition === 'service_healthy')
    .map(([service]) => ({ service, loc: loc(service) }));
}
