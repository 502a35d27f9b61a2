/* Text on the map. Plotly reads hover labels and annotations as a small HTML subset,
 * so every string from the API is escaped here first. */

import { topicColor } from "./format.js";
import { plain } from "./tex.js";

const MAX_LABELS = 80;
const LABELS_BEFORE_LAYOUT = 20; // before the first layout there is no way to tell overlaps
const LABEL_CHARS = 40;

function escapePlotly(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** At most four lines of ``width`` characters, in plotly's <br> markup. */
function wrap(s, width = 64) {
  const words = s.split(/\s+/);
  const lines = [];
  let line = "";
  for (const w of words) {
    if (line && line.length + w.length + 1 > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.slice(0, 4).join("<br>") + (lines.length > 4 ? "…" : "");
}

/** Each point's hover label: its title, then its topic and broad topic. */
export function hoverLabels(data) {
  const names = (level) => new Map((data[`${level}_topics`] || []).map((t) => [t.id, t.label]));
  const fine = names("fine");
  const coarse = names("coarse");
  return data.titles.map((title, i) => {
    const f = data.fine[i];
    const c = data.coarse ? data.coarse[i] : -1;
    const fineLabel = f >= 0 ? fine.get(f) || `topic ${f}` : "no topic";
    const coarseLabel = c >= 0 ? coarse.get(c) : null;
    const topic = coarseLabel && coarseLabel !== fineLabel ? `${fineLabel} · ${coarseLabel}` : fineLabel;
    return `<b>${wrap(escapePlotly(plain(title)))}</b><br><span style="color:#5d6675">${escapePlotly(topic)}</span>`;
  });
}

/** Topic labels at their centres, biggest first, skipping any that would overlap a
 * label already placed at the plot's current zoom (``full``: its _fullLayout). */
export function topicAnnotations(full, data, level) {
  const xa = full && full.xaxis;
  const ya = full && full.yaxis;
  const fontSize = level === "coarse" ? 13 : 11.5;
  const topics = (data[`${level}_topics`] || []).filter((t) => t.id >= 0).sort((a, b) => b.size - a.size);
  const placed = [];
  const out = [];
  for (const t of topics) {
    if (xa && ya && xa.range && ya.range && xa._length && ya._length) {
      const px = ((t.x - xa.range[0]) / (xa.range[1] - xa.range[0])) * xa._length;
      const py = ((ya.range[1] - t.y) / (ya.range[1] - ya.range[0])) * ya._length;
      if (px < 0 || px > xa._length || py < 0 || py > ya._length) continue;
      // the label's box, estimated from its length: measuring text would cost a layout each
      const w = Math.min(t.label.length, LABEL_CHARS) * fontSize * 0.62 + 10;
      const hh = fontSize + 10;
      const box = [px - w / 2, py - hh / 2, px + w / 2, py + hh / 2];
      if (placed.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
      placed.push(box);
    } else if (out.length >= LABELS_BEFORE_LAYOUT) break;
    out.push({
      x: t.x,
      y: t.y,
      text: escapePlotly(t.label.length > LABEL_CHARS ? `${t.label.slice(0, LABEL_CHARS - 1)}…` : t.label),
      showarrow: false,
      font: { size: fontSize, color: "#1c2330" },
      bgcolor: "rgba(255,255,255,0.85)",
      bordercolor: topicColor(t.id),
      borderwidth: 1,
      borderpad: 3,
      captureevents: false,
    });
    if (out.length >= MAX_LABELS) break;
  }
  return out;
}
