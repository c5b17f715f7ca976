// Plan: "Missing HEALTHCHECK CMD in compose files". Also the checks that exist but cannot pass:
// an HTTP probe of a port the fleet config says is a ZMQ socket (upstream-protocols b3), a
// disabled check, a port glued to ${PORT_OFFSET}, and a service_healthy wait on a service
// with no check at all (compose refuses to start that stack).
import type { Env } from '../fleet/port-expr.js';
import type { ComposeFile, ComposeService } from './compose.js';
import type { ComposePlace } from './compose-place.js';
import type { Finding } from './finding.js';
import { agentLabel, type PortMap, type PortUse } from './fleet-ports.js';

export interface HealthContext {
  place: ComposePlace;
  /** machine -> port -> uses; empty when no fleet config was given. */
  ports: ReadonlyMap<string, PortMap>;
  env: Env;
}

const LOCAL = new Set(['localhost', '127.0.0.1', '0.0.0.0', '[::1]']);

export function checkComposeHealth(compose: ComposeFile, ctx: HealthContext): Finding[] {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'rule' | 'file'>) =>
    findings.push({ rule: 'compose-health', file: compose.file, ...f });
  const byName = new Map(compose.services.map((s) => [s.name, s]));

  for (const s of compose.services) {
    for (const dep of s.waitsHealthy) {
      const target = byName.get(dep.service);
      if (target && !target.health && ctx.place.kind !== 'override') {
        add({
          severity: 'error',
          ...pos(dep.loc),
          message: `service "${s.name}" waits for "${dep.service}" to be service_healthy, but "${dep.service}" has no healthcheck: compose refuses to start it`,
          hint: `give "${dep.service}" a healthcheck, or wait with condition: service_started`,
        });
      }
    }
    if (!s.health) {
      if (ctx.place.kind === 'override') continue; // merged onto a base file that may carry it
      const ours = s.build !== undefined || /\bpython\b/.test(s.command ?? '');
      add({
        severity: ours ? 'warning' : 'info',
        ...pos(s.loc),
        message: `service "${s.name}" has no healthcheck${ours ? '' : ` (image ${s.image ?? 'unknown'} may define its own HEALTHCHECK)`}: nothing tells compose or the self-healing supervisor when it is up`,
        hint: ours
          ? 'add healthcheck.test: for a BaseAgent, curl -f http://localhost:<health_check_port+1>/health (its HTTP port), or a ZMQ health_check request as scripts/docker_health_check.py sends'
          : 'add a healthcheck (e.g. redis-cli ping, wget --spider on the HTTP port), or confirm the image has one',
      });
      continue;
    }
    const h = s.health;
    if (h.disabled) {
      add({
        severity: 'warning',
        ...pos(h.loc),
        message: `service "${s.name}" has its healthcheck disabled`,
        hint: 'remove disable: true (or test: ["NONE"]) and give it a test that reaches the HTTP health port',
      });
      continue;
    }
    findings.push(...probes(compose, s, ctx));
  }
  return findings;
}

function probes(compose: ComposeFile, s: ComposeService, ctx: HealthContext): Finding[] {
  const out: Finding[] = [];
  const h = s.health!;
  for (const m of h.command.matchAll(/https?:\/\/([^/:\s'"]+):([^/\s'"|;&)]+)/g)) {
    const host = m[1]!;
    const rawPort = m[2]!;
    if (!LOCAL.has(host)) continue;
    const glued = /\$\{[^}]*\}\d/.test(rawPort);
    const port = Number(interpolate(rawPort, ctx.env));
    if (glued) {
      out.push({
        rule: 'compose-health',
        severity: 'warning',
        file: compose.file,
        ...pos(h.testLoc),
        message: `service "${s.name}" builds its health port by gluing a variable to digits ("${rawPort}" = ${Number.isInteger(port) ? port : 'not a number'} now): with PORT_OFFSET=1000 it becomes ${interpolate(rawPort, { ...ctx.env, PORT_OFFSET: '1000' })}, not an offset port`,
        hint: 'compose cannot add numbers: probe the fixed port inside the container (each container has its own network namespace), or pass the full port as one variable',
      });
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    const machines = ctx.place.machines.length > 0 ? ctx.place.machines : [...ctx.ports.keys()];
    const uses = machines.flatMap((id) => ctx.ports.get(id)?.get(port) ?? []);
    if (uses.length === 0 || uses.some((u) => u.role === 'http')) continue;
    const bad = uses.filter((u) => u.role === 'zmq' || u.role === 'grpc');
    if (bad.length === 0) continue;
    const first = bad[0]!;
    const what = first.role === 'zmq' ? 'a ZMQ socket (BaseAgent REP)' : 'a gRPC (HTTP/2) port';
    out.push({
      rule: 'compose-health',
      // unsure which machine the file is for: say so, and do not fail CI on it
      severity: ctx.place.machines.length > 0 ? 'error' : 'warning',
      file: compose.file,
      ...pos(h.testLoc),
      message: `service "${s.name}" health check requests http://${host}:${port}/, but ${port} is ${bad.map(agentLabel).join(', ')}: ${what}, so the check can never pass`,
      hint: suggest(first, ctx.ports.get(first.machine)),
    });
  }
  return out;
}

function suggest(use: PortUse, ports: PortMap | undefined): string {
  if (use.role === 'zmq' && ports) {
    for (const [port, uses] of ports) {
      const http = uses.find((u) => u.agent === use.agent && u.role === 'http');
      if (!http) continue;
      const clash = uses.filter((u) => u.agent !== use.agent);
      return `probe ${use.agent}'s HTTP port instead: curl -f http://localhost:${port}/health (BaseAgent's health_check_port+1)${clash.length > 0 ? `; note ${port} is also ${clash.map(agentLabel).join(', ')}, fix that clash first` : ''}; or send a ZMQ health_check request as scripts/docker_health_check.py does`;
    }
  }
  return use.role === 'grpc'
    ? 'probe the service with grpc_health_probe, or curl its REST port'
    : 'probe an HTTP port, or send a ZMQ health_check request as scripts/docker_health_check.py does';
}

/** Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR. */
export function interpolate(text: string, env: Env): string {
  return text
    .replace(
      /\$\{(\w+)(?:(:?)-([^}]*))?\}/g,
      (_m, name: string, colon: string | undefined, fallback: string | undefined) => {
        const value = env[name];
        if (fallback !== undefined && (value === undefined || (colon === ':' && value === '')))
          return fallback;
        return value ?? '';
      },
    )
    .replace(/\$(\w+)/g, (_m, name: string) => env[name] ?? '');
}

const pos = (loc: { line: number; col: number }) => ({ line: loc.line, col: loc.col });
