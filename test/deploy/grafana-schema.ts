// A check of a Grafana dashboard against its documented JSON model (grafana.com/docs: "JSON
// model" of a dashboard, panels and templating; schemaVersion 39, Grafana 10/11): what an import
// needs and what Grafana's dashboard loader does not forgive. Returns every problem found, each
// with its JSON path; an empty list is a dashboard that loads.
//
// Checked: the top-level fields and their types; every panel's id (a positive integer, unique
// across the dashboard, rows' panels included), type (a core panel plugin), title and gridPos
// (integers, 24 columns, inside the grid, no two panels overlapping); rows (h 1, full width, a
// `panels` list, `collapsed`); every query panel's targets (unique refIds, a PromQL `expr`);
// every datasource reference ({type, uid}, the uid a variable of type datasource for that type);
// every `$variable` an expression uses is defined (or one of Grafana's own); templating variables
// (unique names, known types, a query variable's datasource and query).

type Json = Record<string, unknown>;

export const CORE_PANELS = new Set([
  'alertlist',
  'annolist',
  'barchart',
  'bargauge',
  'candlestick',
  'canvas',
  'dashlist',
  'datagrid',
  'flamegraph',
  'gauge',
  'geomap',
  'heatmap',
  'histogram',
  'logs',
  'news',
  'nodeGraph',
  'piechart',
  'row',
  'stat',
  'state-timeline',
  'status-history',
  'table',
  'text',
  'timeseries',
  'traces',
  'trend',
  'xychart',
]);
const VARIABLE_TYPES = new Set([
  'query',
  'datasource',
  'custom',
  'constant',
  'interval',
  'textbox',
  'adhoc',
]);
const GLOBALS = new Set([
  '__rate_interval',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__dashboard',
  '__from',
  '__to',
]);

const isDict = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function checkDashboard(d: unknown): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, path: string, what: string) => {
    if (!ok) problems.push(`${path}: ${what}`);
  };
  if (!isDict(d)) return ['$: not an object'];
  need(typeof d.title === 'string' && d.title.length > 0, '$.title', 'a non-empty string');
  need(
    typeof d.uid === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(d.uid),
    '$.uid',
    'up to 40 letters, digits, - and _',
  );
  need(isInt(d.schemaVersion) && d.schemaVersion >= 36, '$.schemaVersion', 'an integer >= 36');
  need(isInt(d.version), '$.version', 'an integer');
  need(d.id === null || isInt(d.id), '$.id', 'null (a new dashboard) or an integer');
  need(Array.isArray(d.tags) && d.tags.every((t) => typeof t === 'string'), '$.tags', 'strings');
  need(typeof d.timezone === 'string', '$.timezone', 'a string');
  need(typeof d.editable === 'boolean', '$.editable', 'true or false');
  need(
    d.refresh === false || (typeof d.refresh === 'string' && /^(\d+[smhd])?$/.test(d.refresh)),
    '$.refresh',
    'false or a duration like 30s',
  );
  need(
    isDict(d.time) && typeof d.time.from === 'string' && typeof d.time.to === 'string',
    '$.time',
    '{from, to}',
  );
  need(isDict(d.annotations) && Array.isArray(d.annotations.list), '$.annotations', '{list: []}');
  const vars = isDict(d.templating) && Array.isArray(d.templating.list) ? d.templating.list : null;
  need(vars !== null, '$.templating', '{list: []}');

  // Variables first: panels refer to them.
  const names = new Map<string, Json>();
  (vars ?? []).forEach((v: unknown, i: number) => {
    const path = `$.templating.list[${i}]`;
    if (!isDict(v)) return need(false, path, 'an object');
    need(typeof v.name === 'string' && /^\w+$/.test(v.name), `${path}.name`, 'a word');
    need(
      typeof v.type === 'string' && VARIABLE_TYPES.has(v.type),
      `${path}.type`,
      'a variable type',
    );
    if (typeof v.name === 'string') {
      need(!names.has(v.name), `${path}.name`, `unique (${v.name} twice)`);
      names.set(v.name, v);
    }
    if (v.type === 'datasource')
      need(
        typeof v.query === 'string' && v.query.length > 0,
        `${path}.query`,
        'the data source type',
      );
    if (v.type === 'query') {
      checkDatasource(v.datasource, `${path}.datasource`);
      const q = isDict(v.query) ? v.query.query : v.query;
      need(typeof q === 'string' && q.length > 0, `${path}.query`, 'a query');
      if (typeof q === 'string') checkVariables(q, `${path}.query`);
    }
  });

  function checkDatasource(ref: unknown, path: string): void {
    if (!isDict(ref) || typeof ref.type !== 'string' || typeof ref.uid !== 'string')
      return need(false, path, '{type, uid}');
    const variable = /^\$\{?(\w+)\}?$/.exec(ref.uid)?.[1];
    if (variable === undefined) return; // a fixed uid: fine for Grafana, nothing to check here
    const v = names.get(variable);
    need(
      v?.type === 'datasource' && v.query === ref.type,
      path,
      `uid ${ref.uid} names no datasource variable of type ${ref.type}`,
    );
  }

  function checkVariables(text: string, path: string): void {
    for (const m of text.matchAll(/\$\{?(\w+)/g))
      need(names.has(m[1]!) || GLOBALS.has(m[1]!), path, `$${m[1]} is not defined`);
  }

  const ids = new Map<number, string>();
  const boxes: Array<{ path: string; x: number; y: number; w: number; h: number }> = [];
  const checkPanel = (p: unknown, path: string) => {
    if (!isDict(p)) return need(false, path, 'an object');
    need(isInt(p.id) && p.id > 0, `${path}.id`, 'a positive integer');
    if (isInt(p.id)) {
      need(!ids.has(p.id), `${path}.id`, `unique (${p.id} is also ${ids.get(p.id)})`);
      ids.set(p.id, path);
    }
    need(
      typeof p.type === 'string' && CORE_PANELS.has(p.type),
      `${path}.type`,
      'a core panel type',
    );
    need(typeof p.title === 'string', `${path}.title`, 'a string');
    const g = p.gridPos;
    if (!isDict(g) || ![g.x, g.y, g.w, g.h].every(isInt))
      need(false, `${path}.gridPos`, '{h, w, x, y} integers');
    else {
      const { x, y, w, h } = g as { x: number; y: number; w: number; h: number };
      need(x >= 0 && y >= 0 && w >= 1 && h >= 1, `${path}.gridPos`, 'x, y >= 0; w, h >= 1');
      need(x + w <= 24, `${path}.gridPos`, `inside the 24 columns (x ${x} + w ${w})`);
      for (const b of boxes)
        if (x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h)
          need(false, `${path}.gridPos`, `overlaps ${b.path}`);
      boxes.push({ path, x, y, w, h });
    }
    if (p.type === 'row') {
      need(Array.isArray(p.panels), `${path}.panels`, 'a list (a row holds its collapsed panels)');
      need(typeof p.collapsed === 'boolean', `${path}.collapsed`, 'true or false');
      if (isDict(g))
        need(g.h === 1 && g.w === 24 && g.x === 0, `${path}.gridPos`, 'a full-width row, h 1');
      if (Array.isArray(p.panels))
        p.panels.forEach((q, i) => checkPanel(q, `${path}.panels[${i}]`));
      return;
    }
    if (p.type === 'text') return;
    checkDatasource(p.datasource, `${path}.datasource`);
    need(
      isDict(p.fieldConfig) &&
        isDict(p.fieldConfig.defaults) &&
        Array.isArray(p.fieldConfig.overrides),
      `${path}.fieldConfig`,
      '{defaults, overrides: []}',
    );
    need(isDict(p.options), `${path}.options`, 'an object');
    if (!Array.isArray(p.targets) || p.targets.length === 0)
      return need(false, `${path}.targets`, 'at least one query');
    const refIds = new Set<string>();
    p.targets.forEach((t: unknown, i: number) => {
      const tp = `${path}.targets[${i}]`;
      if (!isDict(t)) return need(false, tp, 'an object');
      need(
        typeof t.refId === 'string' && !refIds.has(t.refId),
        `${tp}.refId`,
        'unique in the panel',
      );
      if (typeof t.refId === 'string') refIds.add(t.refId);
      need(typeof t.expr === 'string' && t.expr.length > 0, `${tp}.expr`, 'a PromQL expression');
      if (typeof t.expr === 'string') checkVariables(t.expr, `${tp}.expr`);
      if (t.datasource !== undefined) checkDatasource(t.datasource, `${tp}.datasource`);
    });
  };
  if (!Array.isArray(d.panels)) need(false, '$.panels', 'a list');
  else d.panels.forEach((p, i) => checkPanel(p, `$.panels[${i}]`));
  return problems;
}

/** Every metric an expression reads (histogram series by their family name). */
export function metricsIn(expr: string): string[] {
  const words = expr.replace(/\{[^}]*\}/g, ' ').replace(/"[^"]*"/g, ' ');
  const out = new Set<string>();
  for (const m of words.matchAll(/\b(opsdeck_\w+|up)\b(?!\s*\()/g))
    out.add(m[1]!.replace(/_(bucket|sum|count)$/, ''));
  return [...out];
}

/** Every expression in the dashboard. */
export function expressions(d: Json): string[] {
  const out: string[] = [];
  const walk = (panels: unknown) => {
    if (!Array.isArray(panels)) return;
    for (const p of panels as Json[]) {
      walk(p.panels);
      for (const t of (p.targets as Json[] | undefined) ?? []) out.push(String(t.expr));
    }
  };
  walk(d.panels);
  return out;
}
