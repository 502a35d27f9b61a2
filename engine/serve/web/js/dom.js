/* Building elements. Every string from the API reaches the page as text (textContent,
 * or nodes built here), never as HTML, so a title like "<img onerror=…>" stays text. */

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** An element with its props (class, text, testid, dataset, on* handlers, attributes) and children. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "testid") el.dataset.testid = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children, skipping null / false so callers can write `cond ? el : null`. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

const ICONS = {
  heart: ["M12 20.3s-7.6-4.6-9.3-9.4C1.6 7.6 3.7 4.4 7.1 4.4c2 0 3.6 1.1 4.9 2.9 1.3-1.8 2.9-2.9 4.9-2.9 3.4 0 5.5 3.2 4.4 6.5-1.7 4.8-9.3 9.4-9.3 9.4z"],
  ban: ["M12 3.5a8.5 8.5 0 1 0 0 17a8.5 8.5 0 1 0 0-17z", "M6 6l12 12"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  back: ["M19 12H5", "M11 6l-6 6 6 6"],
  external: ["M14 4h6v6", "M20 4l-9 9", "M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"],
  map: ["M12 21s-6.5-6-6.5-11a6.5 6.5 0 0 1 13 0c0 5-6.5 11-6.5 11z", "M12 7.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5z"],
  filter: ["M4 5h16", "M7 12h10", "M10 19h4"],
  alert: ["M12 3.5a8.5 8.5 0 1 0 0 17a8.5 8.5 0 1 0 0-17z", "M12 7.5v5.5", "M12 16.2v.3"],
};

/** An inline SVG icon (no icon font or sprite file: the page asks nothing of other hosts). */
export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", cls);
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// ------------------------------------------------------- states shared by every view

export function errorBox(err, what, testid = "error") {
  const message = err && err.message ? err.message : String(err);
  return h(
    "div",
    { class: "error-box", role: "alert", testid },
    icon("alert"),
    h("div", null, h("strong", null, what), h("p", { class: "error-message", testid: "error-message" }, message)),
  );
}

export function emptyState(title, text, ...extra) {
  return h("div", { class: "empty", testid: "empty" }, h("p", { class: "empty-title" }, title), text ? h("p", { class: "muted" }, text) : null, extra);
}

/** Grey placeholder lines while an answer is on its way. */
export function loadingLines(n = 3) {
  return h("div", { class: "skeleton", "aria-hidden": "true" }, Array.from({ length: n }, (_, i) => h("span", { class: `line w${i % 3}` })));
}

/** The strip under the header, for what concerns the whole page (token, server down). */
export function showBanner(...children) {
  const banner = $("#banner");
  clear(banner, children);
  banner.hidden = false;
}
