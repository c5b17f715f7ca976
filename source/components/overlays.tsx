// The `?` help (generated from the keymap table), the `:` palette, and the top and bottom bars.
import { Box, Text } from 'ink';
import {
  footerHints,
  KEYMAP,
  MOUSE_BINDINGS,
  SCREENS,
  SCREEN_TITLES,
  type Focus,
  type Screen,
} from '../core/ui/keymap.js';
import { paletteMatches } from '../core/ui/state.js';
import { fit } from '../core/ui/view.js';
import { useTheme } from './theme.js';
import { piecesOf, Runs } from './glyphs.js';
import { windowStart } from './table.js';

const HELP_ROWS = [
  ...KEYMAP.map((b) => ({
    keys: b.keys,
    help: `${b.help}${b.scope === 'confirm' ? ' (in a confirmation)' : ''}`,
  })),
  ...MOUSE_BINDINGS,
];
export const HELP_LINES = HELP_ROWS.length;

/** Key lines the help shows at this body height: borders, title, states and position go first. */
export const helpRoom = (height: number): number => Math.max(3, height - 6);

/**
 * Every key and the mouse. Too many for the height: two columns when wide enough for them to
 * fit, else one column that scrolls (↑↓, PgUp/PgDn, the wheel) with its position shown.
 */
export function HelpOverlay({
  width,
  height,
  scroll,
}: {
  width: number;
  height: number;
  scroll: number;
}) {
  const theme = useTheme();
  const room = helpRoom(height);
  const half = Math.ceil(HELP_ROWS.length / 2);
  const two = HELP_ROWS.length > room && width >= 110 && half <= room;
  const overflow = !two && HELP_ROWS.length > room;
  const first = overflow ? Math.min(scroll, HELP_ROWS.length - room) : 0;
  const shown = overflow ? HELP_ROWS.slice(first, first + room) : HELP_ROWS;
  const row = (b: (typeof HELP_ROWS)[number], keyWidth: number) => (
    <Text key={b.keys.join('/') + b.help} wrap="truncate">
      <Text color={theme.accent}>{fit(b.keys.join(' / '), keyWidth)}</Text>
      {` ${b.help}`}
    </Text>
  );
  return (
    <Box
      flexDirection="column"
      borderStyle="double"
      borderColor={theme.accent}
      paddingX={1}
      width={two ? width : Math.min(width, 90)}
    >
      <Text bold color={theme.title} wrap="truncate">
        opsdeck keys (any of ? Esc q closes this)
      </Text>
      {two ? (
        <Box flexDirection="row">
          <Box flexDirection="column" width={Math.floor((width - 4) / 2)} paddingRight={2}>
            {HELP_ROWS.slice(0, half).map((b) => row(b, 16))}
          </Box>
          <Box flexDirection="column" width={Math.ceil((width - 4) / 2)}>
            {HELP_ROWS.slice(half).map((b) => row(b, 16))}
          </Box>
        </Box>
      ) : (
        shown.map((b) => row(b, 18))
      )}
      {overflow ? (
        <Text color={theme.muted} wrap="truncate">
          {`  ${first + 1}-${first + shown.length} of ${HELP_ROWS.length} · ↑↓ PgUp/PgDn scroll`}
        </Text>
      ) : null}
      {/* Every word a row can show (components/theme.tsx rowLook), TIMEOUT and MOVED too. */}
      <Text color={theme.muted} wrap="truncate">
        States: ● OK ▲ DEGR degraded ✖ FAIL unhealthy ● MOVED answers away from its port
      </Text>
      <Text color={theme.muted} wrap="truncate">
        {'  ○ DOWN nothing listens ◌ TIMEOUT no answer · .... not probed yet ◌ STALE'}
      </Text>
    </Box>
  );
}

const PALETTE_ROWS = 12;

export function Palette({
  entries,
  draft,
  pick,
  width,
  height = PALETTE_ROWS + 4,
}: {
  entries: ReadonlyArray<{ id: string; label: string }>;
  draft: string;
  pick: number;
  width: number;
  /** The body's rows: the box (borders, the typed line, the count line) stays inside them. */
  height?: number;
}) {
  const theme = useTheme();
  // The pick moves over every match, so the shown window follows it (the 13th match was
  // selectable but never drawn: Enter ran a command the operator could not see).
  const matches = paletteMatches(entries, draft);
  const rows = Math.max(1, Math.min(PALETTE_ROWS, height - 4));
  const start = windowStart(pick, matches.length, rows);
  const hits = matches.slice(start, start + rows);
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
        <Text key={h.id} inverse={start + i === pick} wrap="truncate">
          {`${h.label}  `}
          <Text color={theme.muted}>{h.id}</Text>
        </Text>
      ))}
      {matches.length > rows ? (
        <Text color={theme.muted} wrap="truncate">
          {`${start + 1}-${start + hits.length} of ${matches.length} (up/down for more)`}
        </Text>
      ) : null}
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

// Narrow terminals: shorter tab titles first, then the phase's and the clock's words go, so the
// NATS state is never cut.
const SHORT_TITLES: Partial<Record<Screen, string>> = { scorecard: 'Score', actions: 'Acts' };

/** What the top bar holds at this width: tab titles, and which tail parts fit. */
export function topBarParts(
  width: number,
  nats: string,
  phase: string | undefined,
  clock: string,
): { titles: Record<string, string>; phase: string | undefined; clock: boolean } {
  const full = Object.fromEntries(SCREENS.map((s) => [s, SCREEN_TITLES[s]]));
  const short = { ...full, ...SHORT_TITLES };
  const length = (titles: Record<string, string>, ph: string | undefined, withClock: boolean) =>
    8 +
    SCREENS.reduce((n, s, i) => n + ` ${i + 1} ${titles[s]} `.length, 0) +
    `  NATS ${nats}`.length +
    (ph ? ph.length : 0) +
    (withClock ? `  ${clock}`.length : 0);
  const tries: Array<[Record<string, string>, string | undefined, boolean]> = [
    [full, phase ? `  bus phase ${phase}` : undefined, true],
    [short, phase ? `  bus phase ${phase}` : undefined, true],
    [short, phase ? `  phase ${phase}` : undefined, true],
    [short, phase ? `  bus ${phase.split(' ').slice(1).join(' ') || phase}` : undefined, false],
    [short, undefined, false],
  ];
  for (const [titles, ph, withClock] of tries)
    if (length(titles, ph, withClock) <= width) return { titles, phase: ph, clock: withClock };
  const last = tries.at(-1)!;
  return { titles: last[0], phase: last[1], clock: last[2] };
}

export function TopBar({ screen, nats, phase, width, clock }: TopBarProps) {
  const theme = useTheme();
  const parts = topBarParts(width, nats, phase, clock);
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
            {` ${i + 1} ${parts.titles[s]} `}
          </Text>
        ))}
        <Text color={theme.muted}>{'  NATS '}</Text>
        <Text color={nats === 'connected' ? theme.ok : nats === 'off' ? theme.muted : theme.warn}>
          {nats}
        </Text>
        {parts.phase ? <Text color={theme.muted}>{parts.phase}</Text> : null}
        {parts.clock ? <Text color={theme.muted}>{`  ${clock}`}</Text> : null}
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
  syntax,
}: {
  notice?: string;
  focus: Focus;
  draft: string;
  width: number;
  /** While a filter is typed: what it understands. */
  syntax?: string;
}) {
  const theme = useTheme();
  if (focus === 'filter')
    return (
      <Text wrap="truncate">
        <Text color={theme.accent}>/</Text>
        {draft}
        <Text inverse> </Text>
        <Text color={theme.muted}>
          {`  Enter keep · Esc clear · ^W ^U erase${syntax ? `   (${syntax})` : ''}`}
        </Text>
      </Text>
    );
  // A notice takes the line's start; the hints get what is left, never less than help and quit.
  const lead = notice ? `${notice}  ` : '';
  // Its `·` separators are glyphs Ink would measure slowly on every frame (glyphs.tsx).
  return (
    <Box width={width}>
      <Runs
        pieces={[
          ...piecesOf(lead, theme.warn),
          ...piecesOf(fitHints(footerHints(focus), Math.max(16, width - lead.length)), theme.muted),
        ]}
      />
    </Box>
  );
}
