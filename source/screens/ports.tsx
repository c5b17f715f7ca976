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
  // The header counts every finding; the filter narrows only the table.
  const errors = p.check.findings.filter((f) => f.severity === 'error').length;
  const perMachine = p.check.registry.machines.map(
    (m) => `${m.id} ${p.check.registry.bindings.filter((b) => b.machine === m.id).length} ports`,
  );
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
      <Text wrap="truncate">
        <Text bold>PORTS </Text>
        <Text color={errors ? theme.bad : theme.ok}>{`${errors} conflicts`}</Text>
        <Text
          color={theme.muted}
        >{`, ${p.check.findings.length - errors} warnings · ${perMachine.join(' · ')} · "derived" = only through BaseAgent's implicit ports (health+1 HTTP, port+1 health)`}</Text>
      </Text>
      {p.filter ? (
        <Text wrap="truncate" color={theme.accent}>
          {`filter "${p.filter}": ${p.findings.length} of ${p.check.findings.length} findings (Esc clears)`}
        </Text>
      ) : null}
      {drift.length ? (
        <Box flexDirection="column">
          <Text wrap="truncate" color={theme.warn}>
            {`DRIFT (live probes): ${drift.length} agent${drift.length === 1 ? '' : 's'} not where the config says`}
            {drift.length > driftShown.length
              ? ` (first ${driftShown.length} shown; ports check --live lists all)`
              : ''}
          </Text>
          {driftShown.map((d) => (
            <Text
              key={agentKey(d.machine, d.agent)}
              wrap="truncate"
            >{`  ${d.kind.padEnd(11)} ${d.message}`}</Text>
          ))}
        </Box>
      ) : null}
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
      {selected ? (
        <Box flexDirection="column" paddingX={1}>
          <Text wrap="truncate" color={selected.severity === 'error' ? theme.bad : theme.warn}>
            {selected.message}
          </Text>
          {selected.owners.map((o, i) => (
            <Text
              key={i}
              wrap="truncate"
            >{`  ${o.machine}/${o.agent} ${o.key} = ${o.port} (${o.rule}) at ${formatLoc(o.loc)}`}</Text>
          ))}
          {selected.reserved ? (
            <Text
              wrap="truncate"
              color={theme.muted}
            >{`  reserved for ${selected.reserved.name}${selected.reserved.loc ? ` (${formatLoc(selected.reserved.loc)})` : ''}`}</Text>
          ) : null}
          {selected.range ? (
            <Text
              wrap="truncate"
              color={theme.muted}
            >{`  outside ${selected.range.name} ${selected.range.start}-${selected.range.end}`}</Text>
          ) : null}
        </Box>
      ) : null}
    </Box>
  );
}
