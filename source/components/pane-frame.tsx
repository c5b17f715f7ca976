// The frame of a fleet pane (a machine's, the errors'): round, the focus colour when it has the
// keys, its whole layout share, and no bottom border when compact (the next pane draws the line).
import type { ReactNode } from 'react';
import { Box } from 'ink';
import { useTheme } from './theme.js';

export function PaneFrame(p: {
  compact: boolean | undefined;
  focused: boolean;
  width: number;
  height: number;
  children: ReactNode;
}) {
  const theme = useTheme();
  return (
    <Box
      // Ink sets a side's border width only when it is shown, never back to 0: a pane that turns
      // compact (a resize) is a new one, else it keeps an empty line for its bottom border.
      key={p.compact ? 'compact' : 'full'}
      flexDirection="column"
      width={p.width}
      // Its whole share even with few rows: what it does not use stays inside it, not below.
      height={p.height}
      borderStyle="round"
      borderBottom={!p.compact}
      borderColor={p.focused ? theme.focus : theme.muted}
    >
      {p.children}
    </Box>
  );
}
