// One agent: where it is defined, every port it binds, its dependencies and their health, the
// last health reply, its recent errors, its VRAM when known.
import { DetailBox } from '../components/detail-box.js';
import { authLine } from '../core/resources/sample-auth.js';
import { Text } from 'ink';
import type { Agent, Machine } from '../core/fleet/model.js';
import { formatLoc } from '../core/fleet/model.js';
import type { ErrorRow } from '../core/errors/pipeline.js';
import type { AgentHealth } from '../core/health/state.js';
import { ago, protocolLabel, sparkline } from '../core/ui/view.js';
import type { MachineResources } from '../core/resources/machine.js';
import { rowLook, STATE_LOOK, SEVERITY_TONE, useTheme } from '../components/theme.js';
import { agentKey, splitAgentKey } from '../core/fleet/agent-key.js';

export interface AgentDetailProps {
  agentKey: string;
  machines: readonly Machine[];
  health: ReadonlyMap<string, AgentHealth>;
  errors: readonly ErrorRow[];
  resources: Readonly<Record<string, MachineResources>>;
  width: number;
  height: number;
  now: number;
}

export function AgentDetail(p: AgentDetailProps) {
  const theme = useTheme();
  const { machine: machineId, agent: name } = splitAgentKey(p.agentKey) ?? {
    machine: '',
    agent: '',
  };
  const machine = p.machines.find((m) => m.id === machineId);
  const agent = machine?.agents.find((a) => a.name === name);
  if (!machine || !agent)
    return <Text color={theme.bad}>{`No agent ${p.agentKey} in the fleet (Esc to go back)`}</Text>;
  const h = p.health.get(p.agentKey);
  const look = rowLook(h?.state ?? 'unknown', h);
  const res = p.resources[machine.id];
  const vram = res?.sample.agents.find((a) => a.name === agent.name);
  const recent = p.errors
    .filter(
      (r) =>
        r.event.agent === agent.name &&
        (r.event.machine === machine.id || r.event.machine === 'any'),
    )
    .slice(0, Math.max(3, p.height - 24));
  return (
    // Never taller than the screen's body (80x24 pushed the tab bar off): what does not fit is
    // cut at the bottom, the most recent errors last.
    <DetailBox width={p.width} height={p.height}>
      <Text wrap="truncate">
        <Text bold color={theme.title}>{`${agent.name}`}</Text>
        {` on ${machine.id} (${machine.host})  `}
        <Text color={theme[look.tone]}>{`${look.symbol} ${look.word}`}</Text>
        {h ? ` ${h.reason}` : ''}
      </Text>
      <Text
        wrap="truncate"
        color={theme.muted}
      >{`defined at ${formatLoc(agent.loc)} (${machine.source.shape}), group ${agent.group}, script ${agent.scriptPath}${agent.required ? ', required' : ''}`}</Text>
      <BoundPorts agent={agent} h={h} />
      <HealthLines h={h} now={p.now} width={p.width} />
      <DependencyList deps={dependencies(agent, machine, p)} machineId={machine.id} />
      {vram ? (
        <Text wrap="truncate">
          {`VRAM ${vram.vramMb === undefined ? 'not known (no per-process GPU reading)' : `${vram.vramMb} MB with its children`} · RSS ${vram.rssMb} MB (${vram.status}) · sample `}
          <Text color={res?.auth.verified ? undefined : theme.warn}>
            {res ? authLine(res.auth) : '-'}
          </Text>
        </Text>
      ) : null}
      <RecentErrors recent={recent} now={p.now} />
      <Text color={theme.muted}>Esc back</Text>
    </DetailBox>
  );
}

/** Where each dependency runs (this machine first) and its state; `where` unset: in no machine. */
function dependencies(agent: Agent, machine: Machine, p: AgentDetailProps) {
  return agent.dependencies.map((d) => {
    const local = machine.agents.some((a) => a.name === d)
      ? machine.id
      : p.machines.find((m) => m.agents.some((a) => a.name === d))?.id;
    const dh = local ? p.health.get(agentKey(local, d)) : undefined;
    return { name: d, where: local, state: dh?.state ?? (local ? 'unknown' : undefined) };
  });
}

/** Every port it binds: configured, health (said when implicit), derived; a move said first. */
function BoundPorts({ agent, h }: { agent: Agent; h: AgentHealth | undefined }) {
  const theme = useTheme();
  return (
    <>
      <Text bold>Ports</Text>
      {h?.moved ? (
        <Text wrap="truncate" color={theme.warn}>
          {`  MOVED: answers on ${h.moved.port} (health ${h.moved.healthPort}), not the configured ${agent.port.value}/${agent.healthPort.value}: ${h.moved.how}`}
        </Text>
      ) : null}
      <Text wrap="truncate">{`  port         ${agent.port.value}   (${String(agent.port.raw)})  ${formatLoc(agent.port.loc)}`}</Text>
      <Text wrap="truncate">{`  health       ${agent.healthPort.value}   (${agent.healthPortImplicit ? 'port+1: BaseAgent default, none configured' : String(agent.healthPort.raw)})`}</Text>
      {agent.implicitPorts
        .filter((ip) => ip.kind !== 'health')
        .map((ip) => (
          <Text
            key={ip.key}
            wrap="truncate"
          >{`  ${ip.key.padEnd(12)} ${ip.value}   (${ip.rule})`}</Text>
        ))}
    </>
  );
}

/** The last health reply and how it was judged. */
function HealthLines({
  h,
  now,
  width,
}: {
  h: AgentHealth | undefined;
  now: number;
  width: number;
}) {
  const theme = useTheme();
  return (
    <>
      <Text bold>Health</Text>
      <Text wrap="truncate">{`  protocol ${h?.protocol ? protocolLabel(h.protocol) : 'not detected yet'} · latency ${h?.latencyMs !== undefined ? `${h.latencyMs.toFixed(1)} ms` : '-'} · last reply ${ago(h?.lastReplyAt, now)} ago · uptime ${h?.uptimeSec !== undefined ? `${Math.round(h.uptimeSec)} s` : '-'}`}</Text>
      <Text wrap="truncate">{`  judged by ${h?.via ?? '-'}`}</Text>
      {h?.note ? <Text wrap="truncate" color={theme.warn}>{`  seen too: ${h.note}`}</Text> : null}
      <Text wrap="truncate">{`  /metrics ${h?.metricsAnswer ?? 'not checked yet'}`}</Text>
      <Text wrap="truncate">{`  history  ${sparkline(h?.history ?? [], Math.min(30, width - 14))}`}</Text>
      <Text wrap="truncate" color={theme.muted}>{`  last reply: ${h?.lastReply ?? '-'}`}</Text>
    </>
  );
}

function DependencyList({
  deps,
  machineId,
}: {
  deps: ReturnType<typeof dependencies>;
  machineId: string;
}) {
  const theme = useTheme();
  return (
    <>
      <Text bold>Dependencies</Text>
      {deps.length === 0 ? <Text color={theme.muted}> none</Text> : null}
      {deps.map((d) => {
        const l = d.state ? STATE_LOOK[d.state] : undefined;
        return (
          <Text key={d.name} wrap="truncate">
            {`  ${d.name.padEnd(28)} `}
            {l ? (
              <Text color={theme[l.tone]}>{`${l.symbol} ${l.word}`}</Text>
            ) : (
              <Text color={theme.bad}>not in the fleet</Text>
            )}
            {d.where && d.where !== machineId ? (
              <Text color={theme.muted}>{` (on ${d.where})`}</Text>
            ) : null}
          </Text>
        );
      })}
    </>
  );
}

function RecentErrors({ recent, now }: { recent: readonly ErrorRow[]; now: number }) {
  const theme = useTheme();
  return (
    <>
      <Text bold>{`Recent errors (${recent.length})`}</Text>
      {recent.map((r) => (
        <Text key={r.id} wrap="truncate">
          {`  ${ago(r.lastAt, now).padStart(4)} `}
          <Text color={theme[SEVERITY_TONE[r.event.severity]]}>{r.event.severity.padEnd(8)}</Text>
          {`${r.bus.padEnd(5)} ${r.count > 1 ? `x${r.count} ` : ''}${r.event.message}`}
        </Text>
      ))}
    </>
  );
}
