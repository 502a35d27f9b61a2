/* Text on the map. Plotly reads hover labels and annotations as a small HTML subset,
 * so every string from the API is escaped first. Where topic labels go is decided by
 * label-placement.js, which the offline map shares. */

import { topicColor } from "./format.js";
import { escapePlotly, mapLabels } from "./label-placement.js";
import { plain } from "./tex.js";

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

/** A function giving point i's hover label: its title (its id until the titles have
 * arrived), then its topic and broad topic. */
export function hoverLabeller(data) {
  const names = (level) => new Map((data[`${level}_topics`] || []).map((t) => [t.id, t.label]));
  const fine = names("fine");
  const coarse = names("coarse");
  return (i) => {
    const f = data.fine[i];
    const c = data.coarse ? data.coarse[i] : -1;
    const fineLabel = f >= 0 ? fine.get(f) || `topic ${f}` : "no topic";
    const coarseLabel = c >= 0 ? coarse.get(c) : null;
    const topic = coarseLabel && coarseLabel !== fineLabel ? `${fineLabel} · ${coarseLabel}` : fineLabel;
    const title = data.titles ? plain(data.titles[i]) : data.ids[i];
    return `<b>${wrap(escapePlotly(title))}</b><br><span style="color:#5d6675">${escapePlotly(topic)}</span>`;
  };
}

/** The labels for the plot's current view (see label-placement.js's mapLabels); a
 * label is framed in its topic's colour when the points are coloured by its level. */
export function topicLabels(full, view, fontFamily, colourLevel) {
  const colour = (id, level) => (level === colourLevel ? topicColor(id) : "#c9ced6");
  return mapLabels(full, view, { fontFamily, colour, text: plain });
}
