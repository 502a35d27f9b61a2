/* The offline map's behaviour. label-placement.js is inlined above this script, so the
 * map is drawn (turned, points sized, labels placed) exactly as the web page draws it. */
const DATA = JSON.parse(document.getElementById("map-data").textContent);
const papers = DATA.papers;
const fineName = Object.fromEntries(DATA.topics.fine.map(t => [t.id, t.label]));
const coarseName = Object.fromEntries(DATA.topics.coarse.map(t => [t.id, t.label]));
const el = document.getElementById("map");
const view = displayView(papers.map(p => p.x), papers.map(p => p.y), DATA.topics, el.clientWidth, el.clientHeight);

function topicText(p) {
  if (p.fine < 0) return "outliers";
  const parent = coarseName[p.coarse];
  return parent && parent !== fineName[p.fine] ? `${fineName[p.fine]} (${parent})` : fineName[p.fine];
}

const hover = i => `<b>${escapeHtml(papers[i].title)}</b><br>${papers[i].id} · ${escapeHtml(topicText(papers[i]))}`;

// One trace per colour group (the overview's topics), largest first, so the legend
// reads like the topic list and names the labels drawn at the overview.
const groups = new Map();
papers.forEach((p, i) => {
  const g = DATA.group[i];
  if (!groups.has(g)) groups.set(g, []);
  groups.get(g).push(i);
});
const order = [...groups.keys()].sort((a, b) => (a < 0) - (b < 0) || groups.get(b).length - groups.get(a).length);
const n = papers.length;
const size = pointSize(n, el.clientWidth, el.clientHeight);
const traces = order.map(g => {
  const idx = groups.get(g);
  return {
    type: "scattergl", mode: "markers", name: g < 0 ? "outliers" : escapeHtml(DATA.names[g]),
    x: idx.map(i => view.x[i]), y: idx.map(i => view.y[i]),
    customdata: idx.map(i => papers[i].id),
    text: idx.map(hover),
    hovertemplate: "%{text}<extra></extra>",
    marker: { size, color: g < 0 ? DATA.outlier_colour : DATA.colours[g], opacity: n > 5000 ? 0.6 : 0.85 },
  };
});
traces.push({
  type: "scattergl", mode: "markers", name: "matches", x: [], y: [], text: [], customdata: [],
  hovertemplate: "%{text}<extra></extra>", showlegend: false,
  marker: { size: size + 6, color: "rgba(0,0,0,0)", line: { color: "#c2185b", width: 2.5 } },
});
const font = getComputedStyle(document.body).fontFamily;
const wide = el.clientWidth >= 700; // on a phone the legend would cover the map
const layout = {
  margin: { l: 8, r: 8, t: 8, b: 8 }, hovermode: "closest", dragmode: "pan", showlegend: wide,
  xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x", scaleratio: 1 },
  legend: { itemsizing: "constant", font: { size: 12 }, bgcolor: "rgba(255,255,255,0.8)" },
  annotations: [], shapes: [], font: { family: font }, paper_bgcolor: "#fafbfc", plot_bgcolor: "#fafbfc",
};
const colour = (id, level) => (level === DATA.overview_level && DATA.colours[id]) || "#c9ced6";
let frame = 0;
function relabel() {
  cancelAnimationFrame(frame);
  frame = requestAnimationFrame(() => {
    const { level, annotations, shapes } = mapLabels(el._fullLayout, view, { fontFamily: font, colour });
    el.dataset.labels = level || "";
    Plotly.relayout(el, { annotations, shapes });
  });
}
Plotly.newPlot(el, traces, layout, { responsive: true, scrollZoom: true, displaylogo: false }).then(() => {
  el.on("plotly_relayout", ev => {
    if (ev && Object.keys(ev).some(key => /^(xaxis|yaxis|autosize|width|height)/.test(key))) relabel();
  });
  relabel();
});

el.on("plotly_click", ev => {
  const id = ev.points[0].customdata;
  if (id && /^\d{4}\.\d{4,5}$|^[a-z\-]+(\.[A-Z]{2})?\/\d{7}$/.test(id)) window.open(`https://arxiv.org/abs/${id}`, "_blank");
});

const search = document.getElementById("search");
const count = document.getElementById("count");
search.addEventListener("input", () => {
  const q = search.value.trim().toLowerCase();
  const hits = q.length < 2 ? [] : papers.map((p, i) => i).filter(i => papers[i].title.toLowerCase().includes(q));
  const last = traces.length - 1;
  Plotly.restyle(el, {
    x: [hits.map(i => view.x[i])], y: [hits.map(i => view.y[i])],
    text: [hits.map(hover)], customdata: [hits.map(i => papers[i].id)],
  }, [last]);
  count.textContent = q.length < 2 ? "" : `${hits.length.toLocaleString()} match${hits.length === 1 ? "" : "es"}`;
});

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
