/* The Map view: every paper as a point (WebGL, so 87k points stay smooth), coloured by
 * topic, labelled with the broad topics at the overview and the fine ones zoomed in; a
 * click opens the paper. The map keeps its shape (one scale for both axes) and fills
 * the panel: a wide map is turned upright on a tall screen. Plotly (4.8 MB) and the
 * map's data load only when the view is first opened.
 *
 * The data are typed arrays (map-points.js) in drawing order: the overview draws a
 * prefix of it, which keeps the map's density; zooming in draws every point of the
 * view once it holds few enough. Titles, for hover, arrive after the first paint. */

import { api, apiBytes } from "./api.js";
import { $, $$, clear, errorBox, h } from "./dom.js";
import { plural, topicColor } from "./format.js";
import { displayView, extent, overviewLevel, pointSize } from "./label-placement.js";
import { hoverLabeller, topicLabels } from "./map-labels.js";
import { decodeMap, rowsToDraw } from "./map-points.js";
import { openPaper } from "./paper.js";
import { adjusted } from "./router.js";
import { searchHits } from "./search.js";
import { app } from "./state.js";
import { onThemeChange } from "./theme.js";
import { currentView, setView } from "./views.js";

const PLOTLY = "/static/vendor/plotly.min.js"; // served by paperscope itself: no CDN
/* The plot's traces, in this order. */
const PAPERS = 0;
const RESULTS = 1;

/** ``data``: /api/map/points decoded; ``view``: it in display coordinates; ``drawn``:
 * the rows the papers' trace shows; ``index``: id → row (built when first needed);
 * ``hover``: point → label; ``level``: the colouring. */
const m = { data: null, view: null, drawn: null, loading: null, level: "fine", levelChosen: false, plotted: false, showResults: false, index: null, hover: null, relabel: 0 };

/** The row of paper ``id`` on the map (undefined if it has none). */
function rowOf(id) {
  if (!m.index) m.index = new Map(m.data.ids.map((pid, i) => [pid, i]));
  return m.index.get(id);
}

const plot = () => $("#map");

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loadPlotly.promise) {
    loadPlotly.promise = new Promise((resolve, reject) => {
      const script = h("script", { src: PLOTLY, async: true });
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly did not load")));
      script.onerror = () => {
        loadPlotly.promise = null; // a later visit may try again
        reject(new Error(`Could not load the plotting library (${PLOTLY}).`));
      };
      document.head.append(script);
    });
  }
  return loadPlotly.promise;
}

/** A message over the plot (loading, error); none hides the box. */
export function mapMessage(...children) {
  const box = $("#map-message");
  clear(box, children);
  box.hidden = children.length === 0;
}

/** The drawn points' colours by their ``level`` topic. */
function mapColors(level) {
  const topics = m.data[level];
  return Array.from(m.drawn, (i) => topicColor(topics[i]));
}

function mapHover() {
  if (!m.hover) m.hover = hoverLabeller(m.data);
  return m.hover;
}

/** The papers' trace for the rows in ``m.drawn``. */
function drawnPoints() {
  const hover = mapHover();
  return {
    x: Array.from(m.drawn, (i) => m.view.x[i]),
    y: Array.from(m.drawn, (i) => m.view.y[i]),
    customdata: Array.from(m.drawn, (i) => m.data.ids[i]),
    text: Array.from(m.drawn, hover),
  };
}

/** After a zoom or pan: the points of the view, as many as ``detail`` allows (from
 * its neighbourhood too, so a pan does not start on empty ground); the overview's when
 * the view is the whole map. A map no larger than its overview is always all drawn. */
function redrawDetail(el) {
  if (m.data.papers <= m.data.overview) return;
  const [x0, x1] = el._fullLayout.xaxis.range;
  const [y0, y1] = el._fullLayout.yaxis.range;
  const zoomed = Math.abs(x1 - x0) < m.view.spanX * 0.9 || Math.abs(y1 - y0) < m.view.spanY * 0.9;
  const [dx, dy] = [Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2];
  const range = zoomed ? { x: [Math.min(x0, x1) - dx, Math.max(x0, x1) + dx], y: [Math.min(y0, y1) - dy, Math.max(y0, y1) + dy] } : null;
  const rows = rowsToDraw(m.view.x, m.view.y, m.data.overview, m.data.detail, range);
  if (rows.length === m.drawn.length && rows.every((r, i) => r === m.drawn[i])) return;
  m.drawn = rows;
  const trace = drawnPoints();
  window.Plotly.restyle(el, { x: [trace.x], y: [trace.y], customdata: [trace.customdata], text: [trace.text], "marker.color": [mapColors(m.level)] }, [PAPERS]);
  el.dataset.drawn = String(rows.length);
}

/** Titles for the hover labels, fetched after the first paint (the largest part of the map's data). */
async function loadTitles(el) {
  try {
    m.data.titles = await api("/api/map/titles");
  } catch {
    return; // hover keeps showing ids
  }
  m.hover = null;
  window.Plotly.restyle(el, { text: [drawnPoints().text] }, [PAPERS]);
  if (m.showResults) updateMapResults();
  el.dataset.titles = "true";
}

/** Places the topic labels again after a zoom or pan, once per frame at most. */
function relabelMap() {
  if (!m.data || !window.Plotly) return;
  cancelAnimationFrame(m.relabel);
  m.relabel = requestAnimationFrame(() => {
    const el = plot();
    const { level, annotations, shapes } = topicLabels(el._fullLayout, m.view, getComputedStyle(document.body).fontFamily, m.level);
    el.dataset.labels = level || "";
    m.labelShapes = shapes;
    window.Plotly.relayout(el, { annotations, shapes: mapShapes() });
  });
}

/** Every shape on the map: the labels' leader lines and the open paper's ring. */
const mapShapes = () => [...(m.labelShapes || []), ...ringShape()];

/** The open paper's ring: a layout shape of fixed pixel size at the point. Shapes are
 * drawn apart from the points, so moving the ring costs no redraw of 87k of them (a
 * restyle of a WebGL trace took ~100 ms). */
function ringShape() {
  const i = m.ringed ? rowOf(m.ringed) : undefined;
  if (i === undefined) return [];
  const r = 9;
  const accent = cssColor("--accent");
  return [{ type: "circle", xref: "x", yref: "y", xsizemode: "pixel", ysizemode: "pixel", xanchor: m.view.x[i], yanchor: m.view.y[i], x0: -r, x1: r, y0: -r, y1: r, line: { color: accent, width: 2.5 }, fillcolor: "rgba(0,0,0,0)", layer: "above" }];
}

/** Starts fetching what the map needs (plotly and the data) before it is opened: the
 * reader's pointer on the Map tab is a good sign it will be. Both are kept for openMapView. */
export function prefetchMap() {
  if (!app.health || !app.health.topics || m.data || m.fetching) return;
  m.fetching = Promise.all([loadPlotly(), apiBytes("/api/map/points").then(decodeMap)]);
  m.fetching.catch(() => {
    m.fetching = null; // openMapView will try again, and say why
  });
}

export async function openMapView() {
  const el = plot();
  if (m.plotted) {
    // the plot was drawn while hidden or at another window size
    window.Plotly.Plots.resize(el);
    if (m.drawnRing !== m.ringed) highlightOnMap(m.ringed);
    if (m.resultsStale) updateMapResults();
    return;
  }
  if (m.loading) return m.loading;
  mapMessage(h("span", { class: "spinner", "aria-hidden": "true" }), app.health ? `Loading the map of ${plural(app.health.papers, "paper")}…` : "Loading the map…");
  el.dataset.state = "loading";
  m.loading = (async () => {
    try {
      // marks for benchmarks/page.py: where a first paint's time goes
      performance.mark("map:open");
      prefetchMap();
      if (!m.fetching) prefetchMap();
      const [Plotly, data] = await m.fetching;
      performance.mark("map:fetched");
      m.data = data;
      m.view = displayView(data.x, data.y, { fine: data.fine_topics, coarse: data.coarse_topics }, el.clientWidth, el.clientHeight);
      m.view.xhi = data.x.reduce((a, b) => (b > a ? b : a), -Infinity); // what turning a map upright subtracts from
      m.drawn = rowsToDraw(m.view.x, m.view.y, data.overview, data.detail, null);
      if (!m.levelChosen) setMapLevel(overviewLevel(m.view.topics.fine.length, m.view.topics.coarse.length), false);
      performance.mark("map:prepared");
      await drawMap(Plotly);
      performance.mark("map:drawn");
      m.plotted = true;
      if (m.ringed) highlightOnMap(m.ringed);
      if (m.showResults) updateMapResults();
      el.dataset.state = "ready";
      el.dataset.drawn = String(m.drawn.length);
      mapMessage();
      loadTitles(el);
      $("#map-info").textContent = `${plural(data.papers, "paper")} · scroll to zoom · click a point to open it`;
    } catch (err) {
      el.dataset.state = "error";
      mapMessage(errorBox(err, "Could not draw the map", "map-error"));
    } finally {
      m.loading = null;
    }
  })();
  return m.loading;
}

/** A colour of the page's theme (app.css's custom properties), for what plotly draws. */
const cssColor = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** The drawn map follows the theme: background, hover labels, the results' rings. */
function recolourMap(el) {
  if (!el || !el._fullLayout || !window.Plotly) return;
  const paper = cssColor("--surface");
  window.Plotly.relayout(el, { paper_bgcolor: paper, plot_bgcolor: paper, "hoverlabel.bgcolor": paper, "hoverlabel.font.color": cssColor("--text"), shapes: mapShapes() });
}

/** Two unseen points at the map's corners: the overview (a double click) spans the
 * whole map although only some points are drawn. */
function extentTrace() {
  const [x0, x1] = extent(m.view.x);
  const [y0, y1] = extent(m.view.y);
  return { type: "scattergl", mode: "markers", name: "extent", x: [x0, x1], y: [y0, y1], hoverinfo: "skip", marker: { size: 1, opacity: 0 } };
}

/** An empty overlay trace: the search results. */
function overlay(name, marker) {
  return { type: "scattergl", mode: "markers", name, x: [], y: [], customdata: [], text: [], hovertemplate: "%{text}<extra></extra>", marker };
}

async function drawMap(Plotly) {
  const el = plot();
  const n = m.drawn.length;
  // points share the panel's area (smaller as the index grows), lighter when many
  const size = pointSize(n, el.clientWidth, el.clientHeight);
  const points = {
    type: "scattergl",
    mode: "markers",
    name: "papers",
    ...drawnPoints(),
    hovertemplate: "%{text}<extra></extra>",
    marker: { color: mapColors(m.level), size, opacity: n > 20000 ? 0.7 : 0.85, line: { width: 0 } },
  };
  const ink = cssColor("--text");
  const paper = cssColor("--surface");
  const results = overlay("search results", { color: ink, size: size + 6, symbol: "circle", line: { color: paper, width: 1.5 } });
  const font = getComputedStyle(document.body).fontFamily;
  const layout = {
    margin: { l: 8, r: 8, t: 8, b: 8 },
    paper_bgcolor: paper,
    plot_bgcolor: paper,
    showlegend: false,
    dragmode: "pan",
    hovermode: "closest",
    hoverlabel: { bgcolor: paper, bordercolor: cssColor("--border-strong"), font: { family: font, size: 12.5, color: ink }, align: "left" },
    font: { family: font },
    xaxis: { visible: false, showgrid: false, zeroline: false },
    // one scale for both axes: the map's shape is never stretched to the panel's
    yaxis: { visible: false, showgrid: false, zeroline: false, scaleanchor: "x", scaleratio: 1 },
    annotations: [],
    shapes: [],
  };
  const config = {
    displaylogo: false,
    responsive: true,
    scrollZoom: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"],
  };
  await Plotly.newPlot(el, [points, results, extentTrace()], layout, config);
  // the panel changes size without the window doing so (a paper opens beside the map)
  new ResizeObserver(() => el.offsetParent && window.Plotly.Plots.resize(el)).observe(el);
  el.on("plotly_click", (event) => {
    const p = event && event.points && event.points[0];
    if (!p) return;
    const id = p.customdata !== undefined ? p.customdata : p.curveNumber === PAPERS ? m.data.ids[m.drawn[p.pointIndex ?? p.pointNumber]] : undefined;
    if (typeof id === "string" && id) openPaper(id);
  });
  el.on("plotly_relayout", (event) => {
    if (event && Object.keys(event).some((key) => /^(xaxis|yaxis|autosize|width|height)/.test(key))) {
      redrawDetail(el);
      relabelMap();
      if (Object.keys(event).some((key) => /^(xaxis|yaxis)/.test(key))) {
        m.moved = !Object.keys(event).some((key) => key.endsWith("autorange")); // a double click is the overview again
        adjusted();
      }
    }
  });
  relabelMap();
}

/** The restyle that shows ``ids`` (those on the map) in an overlay trace. */
function pointsTrace(ids) {
  const hover = mapHover();
  const idx = ids.map(rowOf).filter((i) => i !== undefined);
  return { x: [idx.map((i) => m.view.x[i])], y: [idx.map((i) => m.view.y[i])], customdata: [idx.map((i) => m.data.ids[i])], text: [idx.map(hover)] };
}

function updateMapResults() {
  if (!m.plotted) return;
  m.resultsStale = currentView() !== "map";
  if (m.resultsStale) return; // drawn when the map is shown
  const ids = m.showResults ? searchHits().map((hit) => hit.id) : [];
  window.Plotly.restyle(plot(), pointsTrace(ids), [RESULTS]);
}

/** New search results: shown on the map if the reader asked for them. */
export function searchResultsChanged() {
  if (m.showResults) updateMapResults();
}

/** Rings the open paper (or none) on the map, if it is drawn and in view (a hidden
 * map catches up when shown). */
export function highlightOnMap(id) {
  m.ringed = id;
  if (!m.plotted || currentView() !== "map") return;
  m.drawnRing = id;
  window.Plotly.relayout(plot(), { shapes: mapShapes() });
}

function setMapLevel(level, chosen = true) {
  m.level = level;
  m.levelChosen = m.levelChosen || chosen;
  if (chosen) adjusted();
  for (const b of $$("[data-map-level]")) b.setAttribute("aria-pressed", String(b.dataset.mapLevel === level));
  if (!m.plotted) return;
  window.Plotly.restyle(plot(), { "marker.color": [mapColors(level)] }, [PAPERS]);
  relabelMap(); // the labels' frames follow the colouring
}

export async function showOnMap(id) {
  setView("map");
  await openMapView();
  if (!m.plotted) return;
  const i = rowOf(id);
  if (i === undefined) return;
  highlightOnMap(id);
  const r = Math.max(m.view.spanX, m.view.spanY) / 8;
  const [x, y] = [m.view.x[i], m.view.y[i]];
  window.Plotly.relayout(plot(), { "xaxis.range": [x - r, x + r], "yaxis.range": [y - r, y + r] });
}

export async function showTopicOnMap(t, level) {
  setView("map");
  if (m.level !== level) setMapLevel(level);
  await openMapView();
  if (!m.plotted) return;
  const xs = [];
  const ys = [];
  m.data[level].forEach((topic, i) => {
    if (topic === t.id) {
      xs.push(m.view.x[i]);
      ys.push(m.view.y[i]);
    }
  });
  if (!xs.length) return;
  const pad = (lo, hi) => Math.max((hi - lo) * 0.25, 1);
  const [x0, x1] = extent(xs); // not Math.min(...xs): a topic of 1M papers' map overflows the stack
  const [y0, y1] = extent(ys);
  window.Plotly.relayout(plot(), { "xaxis.range": [x0 - pad(x0, x1), x1 + pad(x0, x1)], "yaxis.range": [y0 - pad(y0, y1), y1 + pad(y0, y1)] });
}

// The map's view in the address is in the layout's own coordinates (centre and half
// width), not the screen's: a map turned upright on a phone opens a desktop's link on
// the same place.
const round = (v) => Number(v.toPrecision(5));

/** Layout → screen coordinates (the map is turned a quarter on a tall screen). */
function toScreen(x, y) {
  return m.view.turned ? [y, m.view.xhi - x] : [x, y];
}

function toLayout(x, y) {
  return m.view.turned ? [m.view.xhi - y, x] : [x, y];
}

/** The view's part of the address while the map is on screen: ``view=x,y,r`` and the colouring. */
export const mapUrlPart = {
  read() {
    if (currentView() !== "map" || !m.plotted) return {};
    const full = plot()._fullLayout;
    const [x0, x1] = full.xaxis.range;
    const [y0, y1] = full.yaxis.range;
    const [x, y] = toLayout((x0 + x1) / 2, (y0 + y1) / 2);
    const r = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) / 2;
    return { colour: m.levelChosen ? m.level : null, view: m.moved ? [x, y, r].map(round).join(",") : null };
  },
  apply(params) {
    if (params.get("tab") !== "map") return;
    const colour = params.get("colour");
    if ((colour === "fine" || colour === "coarse") && colour !== m.level) setMapLevel(colour);
    const view = (params.get("view") || "").split(",").map(Number);
    if (view.length !== 3 || !view.every(Number.isFinite) || view[2] <= 0) return;
    // not awaited by the restore: the plot may take a while to load
    openMapView().then(() => {
      if (!m.plotted) return;
      const [x, y] = toScreen(view[0], view[1]);
      window.Plotly.relayout(plot(), { "xaxis.range": [x - view[2], x + view[2]], "yaxis.range": [y - view[2], y + view[2]] });
    });
  },
};

export function wireMap() {
  for (const b of $$("[data-map-level]")) b.addEventListener("click", () => setMapLevel(b.dataset.mapLevel));
  $("#map-show-results").addEventListener("change", (event) => {
    m.showResults = event.target.checked;
    updateMapResults();
  });
  onThemeChange(() => recolourMap(plot()));
}
