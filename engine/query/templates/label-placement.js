/* How a map is drawn on a screen, shared by the page's map (which imports this file)
 * and the offline map (engine.query.maps inlines it, dropping the ``export`` words), so
 * both look and behave alike:
 * - the map turned upright on a tall screen, and its points sized to share the canvas;
 * - where the topic labels go: no two overlap and none leaves the canvas; bigger topics
 *   come first and in bigger type; a label that cannot sit on its topic moves to the
 *   nearest free place and keeps a leader line to it (as datamapplot's maps do);
 * - which topics are labelled follows the zoom: the broad topics at the overview, the
 *   fine ones once the reader zooms in. */

const BORDER_PAD = 3; // plotly's borderpad around the text, and a 1 px border
const GAP = 3; // px kept free between two labels
const MAX_LABELS = 60;
const AREA_PER_LABEL = 25000; // px²: a phone's map carries a dozen labels, a desktop's ~45
const LABEL_WEIGHT = 600;
const LEADER = "#8a94a3";
const ZOOM_FOR_FINE = 1.8; // fine labels once this much of the map is magnified

/** Which level labels the map at this zoom (``zoom``: full width / visible width). */
export function labelLevel(zoom, fineCount, coarseCount) {
  if (coarseCount === 0 || coarseCount >= fineCount) return "fine";
  return zoom >= ZOOM_FOR_FINE ? "fine" : "coarse";
}

/** The colour and legend level of a map seen whole: its overview labels' level. */
export const overviewLevel = (fineCount, coarseCount) => labelLevel(1, fineCount, coarseCount);

/** Font size in px for a topic of ``size`` papers when the largest has ``largest``. */
export function labelFontSize(size, largest, level, narrow) {
  const [lo, hi] = level === "coarse" ? [11.5, 17] : [10.5, 14];
  const px = lo + (hi - lo) * Math.sqrt(Math.max(size, 0) / Math.max(largest, 1));
  return Math.round((narrow ? px * 0.86 : px) * 2) / 2;
}

/** Marker size in px: points share the canvas's area, within a readable range. */
export function pointSize(n, width, height) {
  return Math.max(2.5, Math.min(10, 0.4 * Math.sqrt((width * height) / Math.max(n, 1))));
}

/** Offsets to try around an anchor, nearest first: a grid of half-label steps. */
function offsets(w, h) {
  const out = [];
  for (let i = -6; i <= 6; i++) {
    for (let j = -8; j <= 8; j++) out.push([(i * (w + GAP)) / 2, (j * (h + GAP)) / 2]);
  }
  return out.sort((a, b) => a[0] * a[0] + 2.5 * a[1] * a[1] - (b[0] * b[0] + 2.5 * b[1] * b[1]));
}

const overlaps = (a, b) => a[0] < b[2] + GAP && a[2] + GAP > b[0] && a[1] < b[3] + GAP && a[3] + GAP > b[1];

/**
 * Labels for ``topics`` ([{id, label, size, px, py}], anchors in canvas pixels) on a
 * ``width`` × ``height`` canvas; ``measure(text, fontSize)`` gives a text's width in px.
 * Returns [{id, text, fontSize, cx, cy, box: [x0, y0, x1, y1], moved}], boxes in px
 * including the border padding; a topic with no free place nearby is left out.
 */
export function placeLabels(topics, { width, height, measure, level, maxChars = 40 }) {
  const narrow = width < 600;
  const visible = topics.filter((t) => t.px >= 0 && t.px <= width && t.py >= 0 && t.py <= height);
  const largest = visible.reduce((m, t) => Math.max(m, t.size), 1);
  const most = Math.min(MAX_LABELS, Math.max(8, Math.round((width * height) / AREA_PER_LABEL)));
  const placed = [];
  for (const t of [...visible].sort((a, b) => b.size - a.size || a.id - b.id)) {
    if (placed.length >= most) break;
    const text = t.label.length > maxChars ? `${t.label.slice(0, maxChars - 1)}…` : t.label;
    const fontSize = labelFontSize(t.size, largest, level, narrow);
    const w = Math.ceil(measure(text, fontSize)) + 2 * (BORDER_PAD + 1);
    const h = Math.ceil(fontSize * 1.3) + 2 * (BORDER_PAD + 1);
    for (const [dx, dy] of offsets(w, h)) {
      const cx = t.px + dx;
      const cy = t.py + dy;
      const box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
      if (box[0] < GAP || box[1] < GAP || box[2] > width - GAP || box[3] > height - GAP) continue;
      if (placed.some((p) => overlaps(box, p.box))) continue;
      placed.push({ id: t.id, text, fontSize, cx, cy, box, moved: Math.hypot(dx, dy) > h });
      break;
    }
  }
  return placed;
}

/** A canvas-backed ``measure`` for ``placeLabels``: real text widths, no layout. */
export function textMeasurer(fontFamily, weight = 600) {
  const context = document.createElement("canvas").getContext("2d");
  return (text, fontSize) => {
    context.font = `${weight} ${fontSize}px ${fontFamily}`;
    return context.measureText(text).width;
  };
}

/** Text for plotly's small HTML subset (labels, hover): markup shown, never read. */
export function escapePlotly(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Extremes of an array, without spreading 87k numbers into Math.min's arguments. */
export function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The map as drawn on a ``width`` × ``height`` canvas: turned a quarter upright when
 * the canvas is tall and the map wide (a turn keeps every distance; only the screen's
 * shape changed). ``topics``: {fine: [...], coarse: [...]} with centres x, y. */
export function displayView(xs, ys, topics, width, height) {
  const [xlo, xhi] = extent(xs);
  const [ylo, yhi] = extent(ys);
  const turned = height > width * 1.15 && xhi - xlo > yhi - ylo;
  const tx = (x, y) => (turned ? y : x);
  const ty = (x, y) => (turned ? xhi - x : y);
  const turn = (list) => (list || []).map((t) => ({ ...t, x: tx(t.x, t.y), y: ty(t.x, t.y) }));
  return {
    turned,
    x: xs.map((v, i) => tx(v, ys[i])),
    y: ys.map((v, i) => ty(xs[i], v)),
    spanX: (turned ? yhi - ylo : xhi - xlo) || 1,
    spanY: (turned ? xhi - xlo : yhi - ylo) || 1,
    topics: { fine: turn(topics.fine), coarse: turn(topics.coarse) },
  };
}

let measureText = null;

/**
 * Plotly annotations and leader lines for the labels of a plot's current view
 * (``full``: its _fullLayout; ``view``: from displayView). ``colour(id, level)`` gives a
 * label's border colour, ``text(label)`` the text to show (plain text: it is escaped
 * here). Returns {level, annotations, shapes}.
 */
export function mapLabels(full, view, { fontFamily, colour, text = (s) => s }) {
  const xa = full && full.xaxis;
  const ya = full && full.yaxis;
  if (!xa || !ya || !xa._length || !ya._length) return { level: null, annotations: [], shapes: [] };
  const [x0, x1] = xa.range;
  const [y0, y1] = ya.range;
  const zoom = Math.max(view.spanX / Math.abs(x1 - x0), view.spanY / Math.abs(y1 - y0));
  const level = labelLevel(zoom, view.topics.fine.length, view.topics.coarse.length);
  const topics = view.topics[level]
    .filter((t) => t.id >= 0)
    .map((t) => ({ id: t.id, label: text(t.label), size: t.size, x: t.x, y: t.y, px: ((t.x - x0) / (x1 - x0)) * xa._length, py: ((y1 - t.y) / (y1 - y0)) * ya._length }));
  measureText = measureText || textMeasurer(fontFamily, LABEL_WEIGHT);
  const anchors = new Map(topics.map((t) => [t.id, t]));
  const placed = placeLabels(topics, { width: xa._length, height: ya._length, measure: measureText, level });
  const annotations = [];
  const shapes = [];
  for (const label of placed) {
    const x = x0 + (label.cx / xa._length) * (x1 - x0);
    const y = y1 - (label.cy / ya._length) * (y1 - y0);
    annotations.push({
      x, y, xanchor: "center", yanchor: "middle", showarrow: false, captureevents: false,
      text: escapePlotly(label.text),
      font: { size: label.fontSize, color: "#1c2330", weight: LABEL_WEIGHT, family: fontFamily },
      bgcolor: "rgba(255,255,255,0.88)", bordercolor: colour(label.id, level), borderwidth: 1, borderpad: BORDER_PAD,
      name: `topic-${level}-${label.id}`,
    }); // prettier-ignore
    if (label.moved) {
      const anchor = anchors.get(label.id);
      shapes.push({ type: "line", x0: anchor.x, y0: anchor.y, x1: x, y1: y, line: { color: LEADER, width: 1 }, layer: "above" });
    }
  }
  return { level, annotations, shapes };
}
