// The box a selected item's full detail opens in (an error, a scorecard line, an agent): the
// focus colour says it takes the keys; what does not fit is cut at the bottom.
import type { ReactNode } from 'react';
import { Box } from 'ink';
import { useTheme } from './theme.js';

export function DetailBox(p: { width?: number; height?: number; children: ReactNode }) {
  const theme = useTheme();
  return (
    <Box
      flexDirection="column"
      borderStyle="round"
      borderColor={theme.focus}
      paddingX={1}
      {...(p.width === undefined ? {} : { width: p.width })}
      {...(p.height === undefined ? {} : { height: p.height })}
      overflow="hidden"
    >
      {p.children}
    </Box>
  );
}
