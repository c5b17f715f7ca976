// The Fleet screen's geometry, from the terminal's size and how many rows each pane has to show.
// Pure, so the key handler (page sizes) and the panes agree, and tests check it at any size.
//
// The rule the operator sees: no pane shows blank rows while another hides content. Machine
// panes are sized by their agents (49 on MainPC, 23 on PC2), the error pane takes what is left.
// Side by side, when one machine needs more height than the other, the error pane goes under the
// shorter one instead of under both, so the taller one can use the whole height.

/** Side by side needs room for two readable agent tables. */
export const SIDE_BY_SIDE_MIN = 150;

/** Stacked panes shorter than this go compact: every line saved is an agent row more. */
export const COMPACT_BELOW = 12;

// Rows a machine pane spends besides its agent rows: borders, two header lines, the table's
// header (compact: top border, one header line, the table's header).
const CHROME = { full: 5, compact: 3 } as const;
// The error pane: borders, its counter line and the table's header.
const ERROR_CHROME = 4;

export interface PaneBox {
  height: number;
  width: number;
  compact: boolean;
  /** Agent rows it shows (its page for PgUp/PgDn). */
  visible: number;
}

export interface FleetLayout {
  side: boolean;
  machines: PaneBox[];
  /** Compact (no bottom border) when the machine panes above it are. */
  errors: { height: number; width: number; visible: number; compact: boolean };
  /** Side by side only: the machine whose column holds the error pane (else it spans all). */
  errorsUnder?: number;
}

/** The least the error pane gets: a few rows, a quarter of a tall screen. */
const errorsMin = (height: number) => Math.max(ERROR_CHROME + 3, Math.floor(height * 0.25));

/** Agent rows a pane of `height` shows, the position line taken when they do not all fit. */
function visibleRows(height: number, rows: number, compact: boolean): number {
  const table = height - (compact ? CHROME.compact : CHROME.full) + 1; // its header included
  const room = table - 1;
  return Math.max(1, rows > room ? room - 1 : room);
}

/** Height a pane needs to show every row (an empty list shows one line saying so). */
const need = (rows: number, compact: boolean) =>
  Math.max(1, rows) + (compact ? CHROME.compact : CHROME.full);

const box = (height: number, width: number, rows: number, compact: boolean): PaneBox => ({
  height,
  width,
  compact,
  visible: visibleRows(height, rows, compact),
});

/**
 * @param rows agent rows per machine, as shown (after the filter)
 * @param height rows below the top bar and above the footer
 */
export function fleetLayout(width: number, height: number, rows: readonly number[]): FleetLayout {
  const n = rows.length;
  const side = width >= SIDE_BY_SIDE_MIN || n === 1;
  const min = errorsMin(height);
  const room = Math.max(5, height - min);
  const errors = (h: number, w: number, compact = false) => ({
    height: h,
    width: w,
    compact,
    visible: Math.max(1, h - ERROR_CHROME + (compact ? 1 : 0)),
  });

  if (side) {
    const paneWidth = Math.floor(width / n);
    const needs = rows.map((r) => need(r, false));
    const tallest = Math.max(...needs);
    const shortest = Math.min(...needs);
    // Everything fits above a full-width error pane, or every pane overflows anyway: one height.
    if (n !== 2 || tallest <= room || shortest >= room) {
      const h = Math.min(tallest, room);
      return {
        side,
        machines: rows.map((r) => box(h, paneWidth, r, false)),
        errors: errors(height - h, width),
      };
    }
    // The taller machine takes the whole height (its column ends where the other does); the
    // error pane goes under the shorter one.
    const short = needs.indexOf(shortest);
    const shortHeight = Math.min(shortest, room);
    return {
      side,
      errorsUnder: short,
      machines: rows.map((r, i) =>
        i === short ? box(shortHeight, paneWidth, r, false) : box(height, paneWidth, r, false),
      ),
      errors: errors(height - shortHeight, paneWidth),
    };
  }

  // Stacked: share the room by need, smallest first (what one does not use, the next may).
  const heights = share(rows, room, false);
  // Only a pane that cannot show all its agents in full goes compact: a two-agent pane keeps its
  // address and counts.
  const compact = heights.map((h, i) => h < COMPACT_BELOW && h < need(rows[i]!, false));
  // Compact panes need fewer rows: share again with each pane's own chrome.
  const final = compact.some(Boolean) ? share(rows, room, compact) : heights;
  const used = final.reduce((a, b) => a + b, 0);
  return {
    side,
    machines: rows.map((r, i) => box(final[i]!, width, r, compact[i]!)),
    errors: errors(height - used, width, compact.some(Boolean)),
  };
}

function share(
  rows: readonly number[],
  room: number,
  compact: boolean | readonly boolean[],
): number[] {
  const isCompact = (i: number) => (typeof compact === 'boolean' ? compact : compact[i]!);
  const order = rows
    .map((r, i) => ({ i, need: need(r, isCompact(i)) }))
    .sort((a, b) => a.need - b.need);
  const out = new Array<number>(rows.length).fill(0);
  let left = room;
  order.forEach(({ i, need: want }, k) => {
    const fair = Math.floor(left / (order.length - k));
    out[i] = Math.max(isCompact(i) ? 4 : 6, Math.min(want, fair));
    left -= out[i];
  });
  return out;
}
