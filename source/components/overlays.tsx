// The `?` help (generated from the keymap table), the `:` palette, and the top and bottom bars.
import { Box, Text } from 'ink';
import {
  footerHints,
  KEYMAP,
  SCREENS,
  SCREEN_TITLES,
  type Focus,
  type Screen,
} from '../core/ui/keymap.js';
import { paletteMatches } from '../core/ui/state.js';
import { fit } from '../core/ui/view.js';
import { useTheme } from './theme.js';

export function HelpOverlay({ width, height = 1000 }: { width: number; height?: number }) {
  const theme = useTheme();
  const row = (b: (typeof KEYMAP)[number], keyWidth: number) => (
    <Text key={`${b.command}-${b.scope}`} wrap="truncate">
      <Text color={theme.accent}>{fit(b.keys.join(' / '), keyWidth)}</Text>
      {` ${b.help}${b.scope === 'confirm' ? ' (in a confirmation)' : ''}`}
    </Text>
  );
  // Title, states, borders: 5 rows. Too many keys for the height: two columns when wide
  // enough, else as many as fit and a pointer to the rest.
  const room = Math.max(3, height - 5);
  const two = KEYMAP.length > room && width >= 110;
  const half = Math.ceil(KEYMAP.length / 2);
  const shown = two ? KEYMAP : KEYMAP.slice(0, KEYMAP.length > room ? room - 1 : room);
  return (
    <Box
      flexDirection="column"
      borderStyle="double"
      borderColor={theme.accent}
      paddingX={1}
      width={two ? width : Math.min(width, 90)}
    >
      <Text bold color={theme.title}>
        opsdeck keys (any of ? Esc q closes this)
      </Text>
      {two ? (
        <Box flexDirection="row">
          <Box flexDirection="column" width={Math.floor((width - 4) / 2)}>
            {KEYMAP.slice(0, half).map((b) => row(b, 16))}
          </Box>
          <Box flexDirection="column" width={Math.ceil((width - 4) / 2)}>
            {KEYMAP.slice(half).map((b) => row(b, 16))}
          </Box>
        </Box>
      ) : (
        shown.map((b) => row(b, 18))
      )}
      {shown.length < KEYMAP.length ? (
        <Text color={theme.muted}>{`… ${KEYMAP.length - shown.length} more: README, Keys`}</Text>
      ) : null}
      <Text color={theme.muted} wrap="truncate">
        States: ● OK ▲ DEGR degraded ✖ FAIL unhealthy ○ DOWN unreachable · not probed yet ◌ STALE
      </Text>
    </Box>
  );
}

export function Palette({
  entries,
  draft,
  pick,
  width,
}: {
  entries: ReadonlyArray<{ id: string; label: string }>;
  draft: string;
  pick: number;
  width: number;
}) {
  const theme = useTheme();
  const hits = paletteMatches(entries, draft).slice(0, 12);
  return (
    <Box
      flexDirection="column"
      borderStyle="round"
      borderColor={theme.accent}
      paddingX={1}
      width={Math.min(width, 80)}
    >
      <Text>
        <Text color={theme.accent}>:</Text>
        {draft}
        <Text inverse> </Text>
      </Text>
      {hits.length === 0 ? <Text color={theme.muted}>no match</Text> : null}
      {hits.map((h, i) => (
        <Text key={h.id} inverse={i === pick} wrap="truncate">
          {`${h.label}  `}
          <Text color={theme.muted}>{h.id}</Text>
        </Text>
      ))}
    </Box>
  );
}

export interface TopBarProps {
  screen: Screen;
  nats: string;
  phase: string | undefined;
  width: number;
  clock: string;
}

export function TopBar({ screen, nats, phase, width, clock }: TopBarProps) {
  const theme = useTheme();
  return (
    <Box width={width}>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>
          opsdeck{' '}
        </Text>
        {SCREENS.map((s, i) => (
          <Text
            key={s}
            inverse={screen === s || (screen === 'agent' && s === 'fleet')}
            color={screen === s ? undefined : theme.muted}
          >
            {` ${i + 1} ${SCREEN_TITLES[s]} `}
          </Text>
        ))}
        <Text color={theme.muted}>{'  NATS '}</Text>
        <Text color={nats === 'connected' ? theme.ok : nats === 'off' ? theme.muted : theme.warn}>
          {nats}
        </Text>
        {phase ? <Text color={theme.muted}>{`  bus phase ${phase}`}</Text> : null}
        <Text color={theme.muted}>{`  ${clock}`}</Text>
      </Text>
    </Box>
  );
}

/**
 * The footer's hints fitted to a width: hints drop from the end of the context's own list, but
 * help and quit (the last two, where present) stay as long as anything fits.
 */
export function fitHints(hints: ReadonlyArray<readonly [string, string]>, width: number): string {
  const text = (h: ReadonlyArray<readonly [string, string]>) =>
    h.map(([k, w]) => `${k} ${w}`).join(' · ');
  const tail = hints.slice(-2).some(([, w]) => w === 'quit') ? hints.slice(-2) : [];
  let own = hints.slice(0, hints.length - tail.length);
  while (own.length > 0 && text([...own, ...tail]).length > width) own = own.slice(0, -1);
  return text([...own, ...tail]);
}

export function BottomBar({
  notice,
  focus,
  draft,
  width,
}: {
  notice?: string;
  focus: Focus;
  draft: string;
  width: number;
}) {
  const theme = useTheme();
  if (focus === 'filter')
    return (
      <Text wrap="truncate">
        <Text color={theme.accent}>/</Text>
        {draft}
        <Text inverse> </Text>
        <Text color={theme.muted}>
          {'  Enter keep · Esc clear   (errors: machine: agent: sev: bus: text)'}
        </Text>
      </Text>
    );
  // A notice takes the line's start; the hints get what is left, never less than help and quit.
  const lead = notice ? `${notice}  ` : '';
  return (
    <Box width={width}>
      <Text wrap="truncate">
        {notice ? <Text color={theme.warn}>{lead}</Text> : null}
        <Text color={theme.muted}>
          {fitHints(footerHints(focus), Math.max(16, width - lead.length))}
        </Text>
      </Text>
    </Box>
  );
}
