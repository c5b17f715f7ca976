// Ports: every conflict across both machines (from `ports check`), the selected one explained
// with each owner and where it is defined, and how many ports each machine binds.
import { Box, Text } from 'ink';
import { formatLoc } from '../core/fleet/model.js';
import type { PortCheck, PortFinding } from '../core/ports/rules.js';
import type { DriftFinding } from '../core/ports/drift.js';
import { Table, type Column } from '../components/table.js';
import { useTheme } from '../components/theme.js';
import { agentKey } from '../core/fleet/agent-key.js';

export interface PortsProps {
  check: PortCheck;
  /** Agents answering away from their config, from the live probes. */
  drift?: readonly DriftFinding[];
  /** The findings shown (filtered; `check.findings` has them all). */
  findings: readonly PortFinding[];
  filter?: string;
  cursor: number;
  width: number;
  height: number;
}

export const findingKey = (f: PortFinding, i: number) =>
  `${f.rule}:${f.machines.join('+')}:${f.port}:${i}`;

function columns(width: number): Column<PortFinding>[] {
  return [
    {
      title: 'SEV',
      width: 5,
      cell: (f) => ({
        text: f.severity === 'error' ? 'ERR' : 'WARN',
        tone: f.severity === 'error' ? 'bad' : 'warn',
      }),
    },
    { title: 'PORT', width: 5, align: 'right', cell: (f) => ({ text: String(f.port) }) },
    { title: 'RULE', width: 13, cell: (f) => ({ text: f.rule }) },
    { title: 'WHERE', width: 11, cell: (f) => ({ text: f.machines.join('+') }) },
    {
      title: 'HOW',
      width: 7,
      cell: (f) => ({
        text: f.derived ? 'derived' : 'written',
        tone: f.derived ? 'muted' : undefined,
      }),
    },
    {
      title: 'OWNERS',
      width: Math.max(20, width - 50),
      cell: (f) => ({ text: f.owners.map((o) => `${o.agent} ${o.key}`).join(' vs ') }),
    },
  ];
}

export function Ports(p: PortsProps) {
  const theme = useTheme();
  const selected = p.findings[p.cursor];
  const drift = p.drift ?? [];
  // The drift gets at most a third of the screen; the conflicts table keeps the rest.
  const driftShown = drift.slice(0, Math.max(1, Math.floor(p.height / 3) - 1));
  // Every line the table does not take, so that the table takes exactly the rest.
  const besides =
    1 + // the PORTS line
    (p.filter ? 1 : 0) +
    (drift.length ? driftShown.length + 1 : 0) +
    2 + // the table's borders
    (selected
      ? 1 + selected.owners.length + (selected.reserved ? 1 : 0) + (selected.range ? 1 : 0)
      : 0);
  return (
    <Box flexDirection="column" width={p.width}>
      <Summary check={p.check} />
      {p.filter ? (
        <Text wrap="truncate" color={theme.accent}>
          {`filter "${p.filter}": ${p.findings.length} of ${p.check.findings.length} findings (Esc clears)`}
        </Text>
      ) : null}
      {drift.length ? <Drift all={drift.length} shown={driftShown} /> : null}
      <Box borderStyle="round" borderColor={theme.focus}>
        <Table
          rows={p.findings}
          columns={columns(p.width - 4)}
          rowKey={(f) => findingKey(f, p.findings.indexOf(f))}
          cursor={p.cursor}
          focused
          height={Math.max(3, p.height - besides)}
          empty={p.filter ? `nothing matches "${p.filter}"` : 'no port conflicts'}
          hit="ports"
        />
      </Box>
      {selected ? <Explained finding={selected} /> : null}
    </Box>
  );
}

/** The PORTS line: every finding counted (the filter narrows only the table), ports per machine. */
function Summary({ check }: { check: PortCheck }) {
  const theme = useTheme();
  const errors = check.findings.filter((f) => f.severity === 'error').length;
  const perMachine = check.registry.machines.map(
    (m) => `${m.id} ${check.registry.bindings.filter((b) => b.machine === m.id).length} ports`,
  );
  return (
    <Text wrap="truncate">
      <Text bold>PORTS </Text>
      <Text color={errors ? theme.bad : theme.ok}>{`${errors} conflicts`}</Text>
      <Text
        color={theme.muted}
      >{`, ${check.findings.length - errors} warnings · ${perMachine.join(' · ')} · "derived" = only through BaseAgent's implicit ports (health+1 HTTP, port+1 health)`}</Text>
    </Text>
  );
}

/** Agents the live probes found away from their config: `shown` of `all`. */
function Drift({ all, shown }: { all: number; shown: readonly DriftFinding[] }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" color={theme.warn}>
        {`DRIFT (live probes): ${all} agent${all === 1 ? '' : 's'} not where the config says`}
        {all > shown.length ? ` (first ${shown.length} shown; ports check --live lists all)` : ''}
      </Text>
      {shown.map((d) => (
        <Text
          key={agentKey(d.machine, d.agent)}
          wrap="truncate"
        >{`  ${d.kind.padEnd(11)} ${d.message}`}</Text>
      ))}
    </Box>
  );
}

/** The selected finding: its message, each owner and where it is defined, the rule it breaks. */
function Explained({ finding }: { finding: PortFinding }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text wrap="truncate" color={finding.severity === 'error' ? theme.bad : theme.warn}>
        {finding.message}
      </Text>
      {finding.owners.map((o, i) => (
        <Text
          key={i}
          wrap="truncate"
        >{`  ${o.machine}/${o.agent} ${o.key} = ${o.port} (${o.rule}) at ${formatLoc(o.loc)}`}</Text>
      ))}
      {finding.reserved ? (
        <Text
          wrap="truncate"
          color={theme.muted}
        >{`  reserved for ${finding.reserved.name}${finding.reserved.loc ? ` (${formatLoc(finding.reserved.loc)})` : ''}`}</Text>
      ) : null}
      {finding.range ? (
        <Text
          wrap="truncate"
          color={theme.muted}
        >{`  outside ${finding.range.name} ${finding.range.start}-${finding.range.end}`}</Text>
      ) : null}
    </Box>
  );
}
