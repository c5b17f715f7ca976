// Where each list is on the screen, for the mouse: a Table registers its box and the rows it
// shows; a click or a wheel notch is mapped to the pane and row under it. Positions come from
// the layout Ink computed for the frame on screen (each box's Yoga node), so they are exactly
// what was drawn, at any size and after any resize.
import type { DOMElement } from 'ink';
import {
  createContext,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  type RefObject,
} from 'react';
import type { Pointed } from '../core/ui/state.js';

interface Region {
  ref: RefObject<DOMElement | null>;
  /** Index of the first row shown, and how many are shown under the header line. */
  first: number;
  rows: number;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function boxOf(node: DOMElement): Box | undefined {
  if (!node.yogaNode) return undefined;
  let x = 0;
  let y = 0;
  for (let n: DOMElement | undefined = node; n; n = n.parentNode) {
    if (!n.yogaNode) continue;
    x += n.yogaNode.getComputedLeft();
    y += n.yogaNode.getComputedTop();
  }
  return {
    x,
    y,
    width: node.yogaNode.getComputedWidth(),
    height: node.yogaNode.getComputedHeight(),
  };
}

export class HitMap {
  private readonly regions = new Map<string, Region>();

  set(id: string, region: Region): void {
    this.regions.set(id, region);
  }

  delete(id: string, ref: Region['ref']): void {
    if (this.regions.get(id)?.ref === ref) this.regions.delete(id);
  }

  /** The pane under the cell (0-based), and the row when the cell is on one. */
  at(x: number, y: number): Pointed {
    for (const [id, r] of this.regions) {
      const box = r.ref.current ? boxOf(r.ref.current) : undefined;
      if (!box || x < box.x || x >= box.x + box.width || y < box.y || y >= box.y + box.height)
        continue;
      const line = y - box.y - 1; // under the table's header line
      return line >= 0 && line < r.rows ? { pane: id, row: r.first + line } : { pane: id };
    }
    return {};
  }
}

export const HitContext = createContext<HitMap | undefined>(undefined);

/** A ref for the list's outer box; the list is registered under `id` while it is mounted. */
export function useHit(
  id: string | undefined,
  first: number,
  rows: number,
): RefObject<DOMElement | null> {
  const map = useContext(HitContext);
  const ref = useRef<DOMElement | null>(null);
  useLayoutEffect(() => {
    if (map && id) map.set(id, { ref, first, rows });
  });
  useEffect(() => {
    if (!map || !id) return;
    return () => map.delete(id, ref);
  }, [map, id]);
  return ref;
}
