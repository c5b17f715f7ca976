// Port expressions as the fleet writes them and upstream's launcher expands them
// (system_launcher.py::_expand_port_value): substitute each ${VAR}, then add up `a+b`.
// PORT_OFFSET unset counts as 0, as the launcher does; any other unset variable without a
// default is an error rather than a silent 0, so a missing MAINPC_PORT_BASE cannot masquerade
// as a valid low port.

export type Env = Readonly<Record<string, string | undefined>>;

export type PortResult = { ok: true; value: number } | { ok: false; reason: string };

/** Variables whose absence means 0, the launcher's behaviour the whole fleet relies on. */
const ZERO_WHEN_UNSET = new Set(['PORT_OFFSET']);

// ${VAR}, ${VAR:-default}, ${VAR:default} (the last is memory_fusion_hub's form).
const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-?([^}]*))?\}/g;

/** Substitutes environment references in a string. Unresolved names are reported, not zeroed. */
export function substituteEnv(text: string, env: Env): { text: string; missing: string[] } {
  const missing: string[] = [];
  const out = text.replace(VAR, (_match, name: string, fallback: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    if (ZERO_WHEN_UNSET.has(name)) return '0';
    missing.push(name);
    return '';
  });
  return { text: out, missing };
}

export function resolvePort(raw: unknown, env: Env): PortResult {
  if (typeof raw === 'number') return checkRange(raw, String(raw));
  if (typeof raw !== 'string') {
    const kind = raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw;
    return { ok: false, reason: `expected a port number or expression, got ${kind}` };
  }
  const { text, missing } = substituteEnv(raw, env);
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `"${raw}": ${missing.map((m) => `\${${m}}`).join(', ')} is not set and has no default`,
    };
  }
  const terms = text.split('+').map((t) => t.trim());
  let sum = 0;
  for (const term of terms) {
    if (!/^\d+$/.test(term)) {
      return {
        ok: false,
        reason: `"${raw}" does not evaluate to a number (got "${text}"; expected N or \${VAR}+N)`,
      };
    }
    sum += Number(term);
  }
  return checkRange(sum, raw);
}

function checkRange(value: number, raw: string): PortResult {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    return { ok: false, reason: `"${raw}" is ${value}, outside the port range 1-65535` };
  }
  return { ok: true, value };
}

/** A bind address such as `tcp://*:5560` or `tcp://0.0.0.0:5561` names a port the agent binds. */
export function bindAddressPort(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^tcp:\/\/(\*|0\.0\.0\.0|127\.0\.0\.1|localhost):(\d+)$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? port : undefined;
}
