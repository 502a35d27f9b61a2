const DATA = JSON.parse(document.getElementById("map-data").textContent);
const papers = DATA.papers;
const fineName = Object.fromEntries(DATA.topics.fine.map(t => [t.id, t.label]));
const coarseName = Object.fromEntries(DATA.topics.coarse.map(t => [t.id, t.label]));

function topicText(p) {
  if (p.fine < 0) return "outliers";
  const parent = coarseName[p.coarse];
  return parent && parent !== fineName[p.fine] ? `${fineName[p.fine]} (${parent})` : fineName[p.fine];
}

// One trace per colour group, largest first, so the legend reads like the topic list.
const groups = new Map();
papers.forEach((p, i) => {
  const g = DATA.group[i];
  if (!groups.has(g)) groups.set(g, []);
  groups.get(g).push(i);
});
const order = [...groups.keys()].sort((a, b) => (a < 0) - (b < 0) || groups.get(b).length - groups.get(a).length);
const n = papers.length;
const size = Math.max(3, Math.min(12, 900 / Math.sqrt(n + 1)));
const traces = order.map(g => {
  const idx = groups.get(g);
  return {
    type: "scattergl", mode: "markers", name: g < 0 ? "outliers" : escapeHtml(DATA.names[g]),
    x: idx.map(i => papers[i].x), y: idx.map(i => papers[i].y),
    customdata: idx.map(i => papers[i].id),
    text: idx.map(i => `<b>${escapeHtml(papers[i].title)}</b><br>${papers[i].id} · ${escapeHtml(topicText(papers[i]))}`),
    hovertemplate: "%{text}<extra></extra>",
    marker: { size, color: g < 0 ? DATA.outlier_colour : DATA.colours[g], opacity: n > 5000 ? 0.55 : 0.85 },
  };
});
traces.push({
  type: "scattergl", mode: "markers", name: "matches", x: [], y: [], text: [], customdata: [],
  hovertemplate: "%{text}<extra></extra>", showlegend: false,
  marker: { size: size + 6, color: "rgba(0,0,0,0)", line: { color: "#c2185b", width: 2.5 } },
});
const labelled = new Set(DATA.labelled);
const labelTopics = (DATA.label_level === "fine" ? DATA.topics.fine : DATA.topics.coarse).filter(t => labelled.has(t.id));
const annotations = labelTopics.map(t => ({
  x: t.x, y: t.y, text: `<b>${escapeHtml(t.label)}</b>`, showarrow: false,
  font: { size: DATA.label_level === "fine" ? 12 : 14, color: "#102a43" },
  bgcolor: "rgba(255,255,255,0.72)", borderpad: 2,
}));
const layout = {
  margin: { l: 10, r: 10, t: 10, b: 10 }, hovermode: "closest", dragmode: "pan",
  xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
  legend: { itemsizing: "constant", font: { size: 12 }, bgcolor: "rgba(255,255,255,0.8)" },
  annotations, paper_bgcolor: "#fafbfc", plot_bgcolor: "#fafbfc",
};
Plotly.newPlot("map", traces, layout, { responsive: true, scrollZoom: true, displaylogo: false });

document.getElementById("map").on("plotly_click", ev => {
  const id = ev.points[0].customdata;
  if (id && /^\d{4}\.\d{4,5}$|^[a-z\-]+(\.[A-Z]{2})?\/\d{7}$/.test(id)) window.open(`https://arxiv.org/abs/${id}`, "_blank");
});

const search = document.getElementById("search");
const count = document.getElementById("count");
search.addEventListener("input", () => {
  const q = search.value.trim().toLowerCase();
  const hits = q.length < 2 ? [] : papers.map((p, i) => i).filter(i => papers[i].title.toLowerCase().includes(q));
  const last = traces.length - 1;
  Plotly.restyle("map", {
    x: [hits.map(i => papers[i].x)], y: [hits.map(i => papers[i].y)],
    text: [hits.map(i => `<b>${escapeHtml(papers[i].title)}</b><br>${papers[i].id} · ${escapeHtml(topicText(papers[i]))}`)],
    customdata: [hits.map(i => papers[i].id)],
  }, [last]);
  count.textContent = q.length < 2 ? "" : `${hits.length.toLocaleString()} match${hits.length === 1 ? "" : "es"}`;
});

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
