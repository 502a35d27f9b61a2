/* paperscope web page: search, paper details, recommendations, topics and the topic map.
 *
 * Vanilla JS, no build step, no external requests. Every string from the API reaches
 * the page as text (textContent, or DOM nodes built here), never as HTML; the map's
 * hover labels, which plotly reads as a small HTML subset, are escaped first.
 */
"use strict";

(() => {
  const STORE_TOKEN = "paperscope.token";
  const STORE_FEEDBACK = "paperscope.feedback.v1";
  const MAX_EXAMPLES = 100; // the API's limit on liked / unliked papers per request
  const PAGE = 20; // results per page of search
  const MAX_K = 100;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#6b8fd6", "#d37295", "#8cd17d", "#b6992d", "#499894", "#e17c05", "#86bcb6",
    "#a0cbe8", "#ffbe7d", "#d4a6c8", "#79706e",
  ];
  const OUTLIER = "#c9ced6";
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const MODE_NAMES = { hybrid: "Hybrid", dense: "Semantic", lexical: "Keywords" };

  const state = {
    view: "search",
    health: null,
    topics: { fine: null, coarse: null },
    topicsLoading: {},
    topicLevel: "fine",
    topic: null, // {id, level} shown in the Topics view
    topicSeq: 0,
    search: { seq: 0, q: "", mode: "hybrid", k: PAGE, hits: [], controller: null },
    detail: { id: null, stack: [], seq: 0 },
    feedback: loadFeedback(),
    recs: { seq: 0, timer: 0 },
    map: { data: null, loading: null, level: "fine", plotted: false, showResults: false, index: null },
  };

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, props, ...children) {
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

  function append(el, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function clear(el, ...children) {
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

  function icon(name, cls = "icon") {
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

  // ------------------------------------------------ a little TeX, as text nodes

  const TEX = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η",
    theta: "θ", vartheta: "ϑ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
    rho: "ρ", sigma: "σ", tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ", Pi: "Π", Sigma: "Σ", Upsilon: "Υ",
    Phi: "Φ", Psi: "Ψ", Omega: "Ω", approx: "≈", sim: "∼", simeq: "≃", lesssim: "≲", gtrsim: "≳",
    la: "≲", ga: "≳", lt: "<", gt: ">", le: "≤", leq: "≤", ge: "≥", geq: "≥", ll: "≪", gg: "≫",
    neq: "≠", ne: "≠", equiv: "≡", times: "×", cdot: "·", pm: "±", mp: "∓", infty: "∞", odot: "⊙",
    sun: "☉", oplus: "⊕", star: "⋆", ast: "∗", prime: "′", circ: "∘", degree: "°", rightarrow: "→",
    to: "→", leftarrow: "←", Rightarrow: "⇒", propto: "∝", partial: "∂", nabla: "∇", sqrt: "√",
    ell: "ℓ", hbar: "ħ", AA: "Å", dots: "…", ldots: "…", cdots: "⋯", in: "∈", sum: "∑", int: "∫",
    langle: "⟨", rangle: "⟩", "%": "%", "&": "&", _: "_", "#": "#", $: "$", "{": "{", "}": "}",
    ",": "\u2009", ";": " ", ":": " ", "!": "", " ": " ", "\\": " ",
  };
  const ACCENTS = { "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304", ".": "\u0307", c: "\u0327", v: "\u030c", u: "\u0306", H: "\u030b" };

  function texText(s) {
    return s
      .replace(/\\(?:textbf|textit|textrm|texttt|textsc|emph|mathrm|text)\{([^{}]*)\}/g, "$1")
      .replace(/\{?\\(['`^"~=.])\{?([A-Za-z])\}?\}?/g, (_, accent, ch) => ch + ACCENTS[accent])
      .replace(/\{?\\([cvuH])\{([A-Za-z])\}\}?/g, (_, accent, ch) => ch + ACCENTS[accent])
      .replace(/\\([&%_#$])/g, "$1")
      .replace(/``|''/g, '"')
      .normalize("NFC");
  }

  function groupEnd(src, start) {
    // index of the brace closing the one at ``start`` (or the end)
    let depth = 0;
    for (let i = start; i < src.length; i++) {
      if (src[i] === "\\") i++;
      else if (src[i] === "{") depth++;
      else if (src[i] === "}" && --depth === 0) return i;
    }
    return src.length;
  }

  function renderMath(src, out, depth = 0) {
    let run = "";
    const flush = () => {
      if (run) out.append(run);
      run = "";
    };
    let i = 0;
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") {
        const m = /^\\([A-Za-z]+|.)/.exec(src.slice(i));
        const name = m ? m[1] : "";
        i += m ? m[0].length : 1;
        if (Object.prototype.hasOwnProperty.call(TEX, name)) run += TEX[name];
        else if (/^[A-Za-z]+$/.test(name)) {
          /* font and sizing commands vanish; their argument is read as it comes */
          if (!/^(?:rm|mathrm|mathbf|mathit|mathcal|mathbb|mathsf|mathtt|mathscr|text|textrm|textbf|textit|emph|it|bf|boldsymbol|bm|operatorname|left|right|big|Big|bigg|displaystyle|scriptstyle|hat|bar|tilde|vec|dot|overline|widetilde|mbox|hbox)$/.test(name)) run += name;
        } else run += name;
      } else if ((c === "_" || c === "^") && depth < 4) {
        i++;
        let arg = "";
        if (src[i] === "{") {
          const end = groupEnd(src, i);
          arg = src.slice(i + 1, end);
          i = end + 1;
        } else if (src[i] === "\\") {
          const m = /^\\([A-Za-z]+|.)/.exec(src.slice(i));
          arg = m ? m[0] : "";
          i += arg.length || 1;
        } else {
          arg = src[i] || "";
          i++;
        }
        flush();
        const el = document.createElement(c === "_" ? "sub" : "sup");
        renderMath(arg, el, depth + 1);
        out.append(el);
      } else if (c === "{" || c === "}") {
        i++;
      } else if (c === "~") {
        run += "\u00a0";
        i++;
      } else {
        run += c;
        i++;
      }
    }
    flush();
  }

  /** Text from the API with its inline TeX ($...$) shown as text, sub- and superscripts. */
  function rich(s) {
    const frag = document.createDocumentFragment();
    if (!s) return frag;
    const parts = String(s).split(/(?<!\\)\$\$?/);
    if (parts.length % 2 === 0 || parts.length > 201) {
      frag.append(texText(String(s)));
      return frag;
    }
    parts.forEach((part, i) => {
      if (i % 2 === 0) {
        if (part) frag.append(texText(part));
      } else {
        const span = h("span", { class: "math" });
        renderMath(part, span);
        frag.append(span);
      }
    });
    return frag;
  }

  function plain(s) {
    if (!s || !/[\\$]/.test(s)) return s || "";
    const span = document.createElement("span");
    span.append(rich(s));
    return span.textContent;
  }

  // ---------------------------------------------------------------- formatting

  function formatDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!m) return iso || "";
    return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1] || m[2]} ${m[1]}`;
  }

  function dateEl(iso, testid) {
    return iso ? h("time", { datetime: iso, testid, class: "date" }, formatDate(iso)) : null;
  }

  function authorsText(authors, limit = 6) {
    if (!authors || !authors.length) return "";
    if (authors.length <= limit) return authors.join(", ");
    return `${authors.slice(0, limit - 1).join(", ")} + ${authors.length - limit + 1} more`;
  }

  function formatScore(score) {
    if (typeof score !== "number") return "";
    return Math.abs(score) >= 0.1 ? score.toFixed(2) : score.toFixed(3);
  }

  const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
  const topicColor = (id) => (id === null || id === undefined || id < 0 ? OUTLIER : PALETTE[id % PALETTE.length]);

  function encodeId(id) {
    return String(id).split("/").map(encodeURIComponent).join("/");
  }

  // ---------------------------------------------------------------- token and API

  function storage(kind) {
    try {
      return kind === "session" ? window.sessionStorage : window.localStorage;
    } catch {
      return null;
    }
  }

  function adoptTokenFromUrl() {
    const url = new URL(window.location.href);
    let token = null;
    const hash = new URLSearchParams(url.hash.replace(/^#/, ""));
    if (hash.has("token")) {
      token = hash.get("token");
      hash.delete("token");
    }
    if (url.searchParams.has("token")) {
      token = url.searchParams.get("token");
      url.searchParams.delete("token");
    }
    if (token === null) return;
    const store = storage("session");
    if (store) {
      if (token) store.setItem(STORE_TOKEN, token);
      else store.removeItem(STORE_TOKEN);
    }
    const rest = hash.toString();
    history.replaceState(null, "", url.pathname + url.search + (rest ? `#${rest}` : ""));
  }

  function token() {
    const store = storage("session");
    return store ? store.getItem(STORE_TOKEN) : null;
  }

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", body, signal } = {}) {
    const headers = { Accept: "application/json" };
    const secret = token();
    if (secret) headers.Authorization = `Bearer ${secret}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "same-origin",
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError("The server did not answer. Is paperscope serve still running?", 0);
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const message =
        payload && typeof payload.error === "string" && payload.error
          ? payload.error
          : `The server answered ${response.status} ${response.statusText}`.trim();
      if (response.status === 401) showTokenPrompt(message);
      throw new ApiError(message, response.status);
    }
    if (payload === null) throw new ApiError("The server's answer was not JSON.", response.status);
    return payload;
  }

  const isAbort = (err) => err && err.name === "AbortError";

  function errorBox(err, what, testid = "error") {
    const message = err instanceof ApiError || (err && err.message) ? err.message : String(err);
    return h(
      "div",
      { class: "error-box", role: "alert", testid },
      icon("alert"),
      h("div", null, h("strong", null, what), h("p", { class: "error-message", testid: "error-message" }, message)),
    );
  }

  function emptyState(title, text, ...extra) {
    return h("div", { class: "empty", testid: "empty" }, h("p", { class: "empty-title" }, title), text ? h("p", { class: "muted" }, text) : null, extra);
  }

  function loadingLines(n = 3) {
    return h("div", { class: "skeleton", "aria-hidden": "true" }, Array.from({ length: n }, (_, i) => h("span", { class: `line w${i % 3}` })));
  }

  // ---------------------------------------------------------------- banner (token, global errors)

  function showBanner(...children) {
    const banner = $("#banner");
    clear(banner, children);
    banner.hidden = false;
  }

  function showTokenPrompt(message) {
    if ($("#token-form")) return;
    const input = h("input", { type: "password", id: "token-input", autocomplete: "off", placeholder: "Access token", testid: "token-input" });
    const form = h(
      "form",
      { class: "token-form", id: "token-form", testid: "token-form" },
      icon("alert"),
      h("span", { class: "banner-text", role: "alert", testid: "banner-message" }, message || "This server needs an access token."),
      h("label", { class: "visually-hidden", for: "token-input" }, "Access token"),
      input,
      h("button", { type: "submit", class: "btn btn-primary btn-small" }, "Use token"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      const store = storage("session");
      if (!value || !store) return;
      store.setItem(STORE_TOKEN, value);
      window.location.reload();
    });
    showBanner(form);
  }

  // ---------------------------------------------------------------- feedback (likes)

  function loadFeedback() {
    const empty = { like: [], unlike: [] };
    try {
      const raw = JSON.parse((storage("local") && storage("local").getItem(STORE_FEEDBACK)) || "null");
      if (!raw || typeof raw !== "object") return empty;
      const clean = (list) =>
        Array.isArray(list)
          ? list.filter((e) => e && typeof e.id === "string" && e.id).map((e) => ({ id: e.id, title: typeof e.title === "string" ? e.title : e.id }))
          : [];
      return { like: clean(raw.like), unlike: clean(raw.unlike) };
    } catch {
      return empty;
    }
  }

  function saveFeedback() {
    const store = storage("local");
    if (store) {
      try {
        store.setItem(STORE_FEEDBACK, JSON.stringify(state.feedback));
      } catch {
        /* storage full or disabled: the marks last for this page only */
      }
    }
  }

  const marked = (id, kind) => state.feedback[kind].some((e) => e.id === id);

  function mark(paper, kind) {
    const other = kind === "like" ? "unlike" : "like";
    const fb = state.feedback;
    const on = marked(paper.id, kind);
    fb[other] = fb[other].filter((e) => e.id !== paper.id);
    fb[kind] = fb[kind].filter((e) => e.id !== paper.id);
    if (!on) fb[kind].push({ id: paper.id, title: paper.title || paper.id });
    saveFeedback();
    feedbackChanged();
  }

  function unmark(id) {
    state.feedback.like = state.feedback.like.filter((e) => e.id !== id);
    state.feedback.unlike = state.feedback.unlike.filter((e) => e.id !== id);
    saveFeedback();
    feedbackChanged();
  }

  function feedbackButtons(paper, { compact = true, prefix = "" } = {}) {
    const make = (kind) => {
      const like = kind === "like";
      const label = like ? "More like this" : "Less like this";
      return h(
        "button",
        {
          type: "button",
          class: `fb-btn fb-${kind}${compact ? " compact" : ""}`,
          "aria-pressed": String(marked(paper.id, kind)),
          "aria-label": compact ? `${label}: ${plain(paper.title || paper.id)}` : null,
          title: compact ? label : null,
          testid: prefix ? `${prefix}-${kind}` : `${kind}-button`,
          dataset: { paperId: paper.id, kind },
          onclick: (event) => {
            event.stopPropagation();
            mark(paper, kind);
          },
        },
        icon(like ? "heart" : "ban"),
        compact ? null : h("span", null, label),
      );
    };
    return h("div", { class: "fb-group", role: "group", "aria-label": "Recommendation feedback" }, make("like"), make("unlike"));
  }

  function feedbackChanged() {
    for (const button of $$(".fb-btn")) {
      button.setAttribute("aria-pressed", String(marked(button.dataset.paperId, button.dataset.kind)));
    }
    const count = state.feedback.like.length + state.feedback.unlike.length;
    const badge = $('[data-testid="feedback-count"]');
    badge.textContent = String(state.feedback.like.length);
    badge.hidden = state.feedback.like.length === 0;
    badge.title = `${plural(state.feedback.like.length, "liked paper")}`;
    $("#feedback-clear").hidden = count === 0;
    renderExamples();
    scheduleRecommendations();
  }

  function renderExamples() {
    const box = $("#examples");
    const { like, unlike } = state.feedback;
    if (!like.length && !unlike.length) {
      clear(box);
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const chips = (list, kind) =>
      h(
        "ul",
        { class: `example-list ${kind}`, testid: `examples-${kind}` },
        list.map((e) =>
          h(
            "li",
            { class: `example ${kind}`, dataset: { id: e.id } },
            h("button", { type: "button", class: "example-title", title: plain(e.title), onclick: () => openPaper(e.id) }, rich(e.title)),
            h("button", { type: "button", class: "example-remove", "aria-label": `Remove ${plain(e.title)}`, title: "Remove", onclick: () => unmark(e.id) }, icon("close")),
          ),
        ),
      );
    clear(
      box,
      like.length ? h("div", { class: "example-group" }, h("h2", { class: "label-like" }, icon("heart"), `Liked · ${like.length}`), chips(like, "like")) : null,
      unlike.length ? h("div", { class: "example-group" }, h("h2", { class: "label-unlike" }, icon("ban"), `Less like this · ${unlike.length}`), chips(unlike, "unlike")) : null,
    );
  }

  function scheduleRecommendations() {
    clearTimeout(state.recs.timer);
    state.recs.timer = setTimeout(loadRecommendations, 150);
  }

  async function loadRecommendations() {
    const seq = ++state.recs.seq;
    const box = $("#recommendations");
    const like = state.feedback.like.slice(-MAX_EXAMPLES).map((e) => e.id);
    const unlike = state.feedback.unlike.slice(-MAX_EXAMPLES).map((e) => e.id);
    box.dataset.likes = String(like.length);
    box.dataset.unlikes = String(unlike.length);
    if (!like.length) {
      box.dataset.state = "empty";
      clear(
        box,
        emptyState(
          unlike.length ? "Like at least one paper" : "No recommendations yet",
          unlike.length
            ? "Papers marked “less like this” steer recommendations away, but they need a paper you like to start from."
            : "Open a paper and press “More like this”, or use the heart on any result. Recommendations appear here and follow every change.",
        ),
      );
      return;
    }
    box.dataset.state = "loading";
    box.setAttribute("aria-busy", "true");
    if (!box.querySelector(".hit-list")) clear(box, loadingLines(4));
    try {
      const answer = await api("/api/recommend", { method: "POST", body: { like, unlike, k: 20 } });
      if (seq !== state.recs.seq) return;
      renderRecommendations(answer);
      box.dataset.state = "ready";
    } catch (err) {
      if (seq !== state.recs.seq) return;
      clear(box, errorBox(err, "Could not load recommendations", "recommend-error"));
      box.dataset.state = "error";
    } finally {
      if (seq === state.recs.seq) box.removeAttribute("aria-busy");
    }
  }

  function renderRecommendations(answer) {
    const box = $("#recommendations");
    const titles = new Map(state.feedback.like.map((e) => [e.id, e.title]));
    if (!answer.hits.length) {
      clear(box, emptyState("Nothing to recommend", "No other paper in the index is close to the ones you like, with these marks."));
      return;
    }
    const list = h("ol", { class: "hit-list", testid: "recommendation-list" });
    for (const hit of answer.hits) {
      const because = hit.because;
      let why = null;
      if (because && because.like) {
        const likedTitle = titles.get(because.like) || because.like;
        why = h(
          "p",
          { class: "because", testid: "because" },
          "Because you liked ",
          h("button", { type: "button", class: "link", onclick: () => openPaper(because.like) }, rich(likedTitle)),
          typeof because.similarity === "number" ? h("span", { class: "muted" }, ` · similarity ${because.similarity.toFixed(2)}`) : null,
          because.words && because.words.length
            ? h("span", { class: "shared" }, " · shared words ", because.words.map((w) => h("span", { class: "word" }, w)))
            : null,
        );
      }
      list.append(hitItem(hit, { extra: why, testid: "recommendation" }));
    }
    clear(
      box,
      h("p", { class: "status-line" }, `${plural(answer.hits.length, "paper")} based on ${plural(answer.like.length, "liked paper")}`, answer.unlike.length ? ` and ${answer.unlike.length.toLocaleString("en")} marked “less like this”` : ""),
      list,
    );
  }

  // ---------------------------------------------------------------- hits

  function topicChip(topic, { onClick, level = "fine", testid = "topic-chip" } = {}) {
    if (!topic) return null;
    const label = topic.label || `topic ${topic.id}`;
    const parent = topic.parent && topic.parent.label && topic.parent.label !== label ? topic.parent.label : null;
    return h(
      "button",
      {
        type: "button",
        class: "chip topic-chip",
        testid,
        dataset: { topicId: String(topic.id), level },
        title: onClick ? onClick.title : `Topic: ${label}${parent ? ` (in ${parent})` : ""}. Show this topic`,
        onclick: (event) => {
          event.stopPropagation();
          if (onClick) onClick.run(topic);
          else showTopic(topic.id, level);
        },
      },
      h("span", { class: "dot", style: `background:${topicColor(topic.id)}` }),
      label,
    );
  }

  function categoryPills(hit, testid) {
    const cats = hit.categories || [];
    if (!cats.length) return null;
    return h(
      "span",
      { class: "cats", testid },
      cats.map((c) => h("span", { class: `cat${c === hit.primary_category ? " primary" : ""}`, title: c === hit.primary_category ? "primary category" : null }, c)),
    );
  }

  /** One paper in a list (results, related, topic papers, recommendations). */
  function hitItem(hit, { extra = null, testid = "hit", compact = false, chip = undefined, scoreLabel = "score" } = {}) {
    const item = h("li", { class: `hit${compact ? " compact" : ""}${state.detail.id === hit.id ? " is-selected" : ""}`, testid, dataset: { id: hit.id } });
    const title = h("button", { type: "button", class: "hit-title", testid: `${testid}-title`, onclick: () => openPaper(hit.id) }, rich(hit.title));
    const authors = hit.authors && hit.authors.length ? h("p", { class: "authors", testid: `${testid}-authors`, title: hit.authors.length > (compact ? 3 : 6) ? hit.authors.join(", ") : null }, authorsText(hit.authors, compact ? 3 : 6)) : null;
    const score =
      typeof hit.score === "number"
        ? h("span", { class: "score", testid: `${testid}-score`, dataset: { score: String(hit.score) }, title: scoreLabel === "score" ? "Search score" : scoreLabel }, `${scoreLabel === "score" ? "score" : "sim"} ${formatScore(hit.score)}`)
        : null;
    const meta = h(
      "div",
      { class: "meta" },
      dateEl(hit.date, `${testid}-date`),
      compact ? score : null,
      compact ? null : categoryPills(hit, `${testid}-categories`),
      chip === undefined ? topicChip(hit.topic) : chip,
      compact ? null : h("span", { class: "spacer" }),
      compact ? null : score,
    );
    append(
      item,
      h("div", { class: "hit-main" }, compact ? null : h("span", { class: "rank", "aria-hidden": "true" }, String(hit.rank)), h("div", { class: "hit-body" }, title, authors, meta, extra)),
      h("div", { class: "hit-actions" }, feedbackButtons(hit)),
    );
    return item;
  }

  function markSelected() {
    for (const el of $$(".hit[data-id]")) el.classList.toggle("is-selected", el.dataset.id === state.detail.id);
  }

  // ---------------------------------------------------------------- search

  function currentFilters() {
    const categories = $("#f-category").value.split(/[\s,]+/).map((c) => c.trim()).filter(Boolean);
    const since = $("#f-since").value.trim();
    const until = $("#f-until").value.trim();
    const topicValue = $("#f-topic").value;
    let topic = null;
    if (topicValue) {
      const [level, id] = topicValue.split(":");
      topic = { level, id: Number(id) };
    }
    return { categories, since, until, topic };
  }

  function topicLabel(id, level) {
    const list = state.topics[level] || [];
    const t = list.find((x) => x.id === id);
    return t ? t.label : `topic ${id}`;
  }

  function renderActiveFilters() {
    const f = currentFilters();
    const box = $("#active-filters");
    const chips = [];
    const chip = (text, onRemove, testid) =>
      h("span", { class: "filter-chip", testid }, text, h("button", { type: "button", "aria-label": `Remove filter ${text}`, title: "Remove filter", onclick: () => { onRemove(); renderActiveFilters(); if (state.search.q) runSearch(); } }, icon("close")));
    for (const c of f.categories) {
      chips.push(chip(`category ${c}`, () => { $("#f-category").value = currentFilters().categories.filter((x) => x !== c).join(", "); }, "filter-chip-category"));
    }
    if (f.since) chips.push(chip(`from ${f.since}`, () => { $("#f-since").value = ""; }, "filter-chip-since"));
    if (f.until) chips.push(chip(`to ${f.until}`, () => { $("#f-until").value = ""; }, "filter-chip-until"));
    if (f.topic) chips.push(chip(`${f.topic.level === "coarse" ? "broad topic" : "topic"}: ${topicLabel(f.topic.id, f.topic.level)}`, () => { $("#f-topic").value = ""; }, "filter-chip-topic"));
    clear(box, chips);
    const toggle = $("#filter-toggle");
    toggle.textContent = chips.length ? `Filters (${chips.length})` : "Filters";
  }

  function setFiltersOpen(open) {
    $("#filters").hidden = !open;
    $("#filter-toggle").setAttribute("aria-expanded", String(open));
  }

  function filterByTopic(topic, level = "fine") {
    ensureTopicOption(topic, level);
    $("#f-topic").value = `${level}:${topic.id}`;
    renderActiveFilters();
    setView("search");
    if ($("#q").value.trim()) runSearch();
    else {
      $("#q").focus();
      setStatus(`Type a query to search within “${topic.label || topicLabel(topic.id, level)}”.`);
    }
  }

  function ensureTopicOption(topic, level) {
    const select = $("#f-topic");
    const value = `${level}:${topic.id}`;
    if (!Array.from(select.options).some((o) => o.value === value)) {
      select.append(h("option", { value }, topic.label || `topic ${topic.id}`));
    }
  }

  function setStatus(...children) {
    clear($("#search-status"), children);
  }

  async function runSearch({ k = PAGE } = {}) {
    const q = $("#q").value.trim();
    const mode = $("#mode").value;
    const results = $("#results");
    if (!q) {
      setStatus("Type a few words to search.");
      $("#q").focus();
      return;
    }
    const filters = currentFilters();
    const params = new URLSearchParams({ q, k: String(k), mode });
    for (const c of filters.categories) params.append("category", c);
    if (filters.since) params.set("since", filters.since);
    if (filters.until) params.set("until", filters.until);
    if (filters.topic) {
      params.set("topic", String(filters.topic.id));
      params.set("level", filters.topic.level);
    }
    const seq = ++state.search.seq;
    if (state.search.controller) state.search.controller.abort();
    const controller = new AbortController();
    state.search.controller = controller;
    Object.assign(state.search, { q, mode, k });
    setView("search");
    results.setAttribute("aria-busy", "true");
    results.dataset.state = "loading";
    setStatus(h("span", { class: "spinner", "aria-hidden": "true" }), "Searching…");
    if (k === PAGE) clear(results, loadingLines(5));
    const url = new URL(window.location.href);
    url.searchParams.set("q", q);
    if (mode !== "hybrid") url.searchParams.set("mode", mode);
    else url.searchParams.delete("mode");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    try {
      const answer = await api(`/api/search?${params}`, { signal: controller.signal });
      if (seq !== state.search.seq) return;
      state.search.hits = answer.hits;
      renderResults(answer, filters);
      results.dataset.state = "ready";
      if (state.map.showResults) updateMapResults();
    } catch (err) {
      if (isAbort(err) || seq !== state.search.seq) return;
      state.search.hits = [];
      setStatus();
      clear(results, errorBox(err, "The search failed", "search-error"));
      results.dataset.state = "error";
    } finally {
      if (seq === state.search.seq) results.removeAttribute("aria-busy");
    }
  }

  function renderResults(answer, filters) {
    const results = $("#results");
    const active = filters.categories.length + (filters.since ? 1 : 0) + (filters.until ? 1 : 0) + (filters.topic ? 1 : 0);
    if (!answer.hits.length) {
      setStatus();
      clear(
        results,
        emptyState(
          `No papers match “${answer.query}”`,
          active ? "Try fewer filters, or other words." : "Try other words, or the Semantic mode, which matches meaning rather than words.",
        ),
      );
      return;
    }
    const elapsed = typeof answer.elapsed_ms === "number" ? ` · ${Math.round(answer.elapsed_ms).toLocaleString("en")} ms` : "";
    setStatus(
      h("span", { testid: "result-count" }, plural(answer.hits.length, "result")),
      " for ",
      h("q", null, answer.query),
      h("span", { class: "muted" }, ` · ${MODE_NAMES[answer.mode] || answer.mode}${elapsed}`),
    );
    const list = h("ol", { class: "hit-list results-list", testid: "result-list" });
    for (const hit of answer.hits) {
      list.append(
        hitItem(hit, {
          testid: "result",
          chip: topicChip(hit.topic, {
            onClick: { title: `Topic: ${hit.topic ? hit.topic.label : ""}. Narrow this search to it`, run: (topic) => filterByTopic(topic, "fine") },
          }),
        }),
      );
    }
    const more =
      answer.hits.length >= state.search.k && state.search.k < MAX_K
        ? h("button", { type: "button", class: "btn btn-quiet more", testid: "more-results", onclick: () => runSearch({ k: Math.min(MAX_K, state.search.k + PAGE) }) }, "Show more results")
        : null;
    clear(results, list, more);
  }

  function renderSearchWelcome() {
    const results = $("#results");
    if (results.childElementCount) return;
    const papers = state.health ? plural(state.health.papers, "paper") : "the index";
    const suggestions = (state.topics.fine || [])
      .filter((t) => t.id >= 0)
      .slice()
      .sort((a, b) => b.size - a.size)
      .slice(0, 8);
    clear(
      results,
      h(
        "div",
        { class: "welcome", testid: "welcome" },
        h("h1", null, `Search ${papers}`),
        h("p", { class: "muted" }, "Describe what you are looking for in your own words, or paste an abstract. Hybrid search mixes meaning and keywords; quotes keep a phrase together."),
        h(
          "ul",
          { class: "tips" },
          h("li", null, h("strong", null, "Open a paper"), " to read its abstract and see the papers nearest to it."),
          h("li", null, h("strong", null, "Like papers"), " with ", icon("heart", "icon inline like"), "; ", h("em", null, "For you"), " gathers more like them, and ", icon("ban", "icon inline"), " steers away."),
          state.health && state.health.topics ? h("li", null, h("strong", null, "Topics"), " and the ", h("strong", null, "Map"), " group the index by subject; click a topic chip to search within it.") : null,
        ),
        suggestions.length
          ? h(
              "div",
              { class: "suggestions" },
              h("span", { class: "muted" }, "Try a topic of this index:"),
              suggestions.map((t) =>
                h("button", { type: "button", class: "chip", onclick: () => { $("#q").value = t.label; runSearch(); } }, h("span", { class: "dot", style: `background:${topicColor(t.id)}` }), t.label),
              ),
            )
          : null,
      ),
    );
  }

  // ---------------------------------------------------------------- detail pane

  function renderDetailEmpty() {
    const pane = $("#detail");
    pane.dataset.state = "empty";
    clear(
      pane,
      h(
        "div",
        { class: "detail-empty", testid: "detail-empty" },
        h("div", { class: "detail-empty-art", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
        h("p", { class: "empty-title" }, "No paper open"),
        h("p", { class: "muted" }, "Choose a title to read its abstract and the papers nearest to it. Mark papers with ", icon("heart", "icon inline like"), " or ", icon("ban", "icon inline"), " to tune your recommendations."),
      ),
    );
  }

  async function openPaper(id, { push = true } = {}) {
    if (!id) return;
    const d = state.detail;
    if (push && d.id && d.id !== id) {
      d.stack.push(d.id);
      if (d.stack.length > 50) d.stack.shift();
    }
    d.id = id;
    const seq = ++d.seq;
    markSelected();
    highlightOnMap(id);
    const pane = $("#detail");
    pane.dataset.state = "loading";
    pane.dataset.id = id;
    clear(pane, h("div", { class: "detail-inner" }, loadingLines(2), h("div", { class: "gap" }), loadingLines(6)));
    pane.scrollTop = 0;
    if (window.matchMedia("(max-width: 980px)").matches) pane.scrollIntoView({ block: "start" });
    const paperReq = api(`/api/papers/${encodeId(id)}`);
    const relatedReq = api(`/api/papers/${encodeId(id)}/related?k=10`);
    let paper;
    try {
      paper = await paperReq;
    } catch (err) {
      relatedReq.catch(() => {});
      if (seq !== d.seq) return;
      pane.dataset.state = "error";
      clear(pane, h("div", { class: "detail-inner" }, detailNav(id), errorBox(err, "Could not open this paper", "detail-error")));
      return;
    }
    if (seq !== d.seq) return;
    renderPaper(paper);
    pane.dataset.state = "paper";
    const relatedBox = $("#related");
    try {
      const related = await relatedReq;
      if (seq !== d.seq) return;
      relatedBox.dataset.state = "ready";
      if (!related.hits.length) clear(relatedBox, h("p", { class: "muted" }, "No related papers."));
      else clear(relatedBox, h("ol", { class: "hit-list compact-list", testid: "related-list" }, related.hits.map((hit) => hitItem(hit, { compact: true, testid: "related", scoreLabel: "Similarity to this paper" }))));
    } catch (err) {
      if (seq !== d.seq) return;
      relatedBox.dataset.state = "error";
      clear(relatedBox, errorBox(err, "Could not load related papers", "related-error"));
    }
  }

  function detailNav(id, hasMap = false) {
    const d = state.detail;
    const back = d.stack.length
      ? h("button", { type: "button", class: "btn-link back", testid: "detail-back", onclick: () => openPaper(d.stack.pop(), { push: false }) }, icon("back"), "Back")
      : null;
    const external = /^[\w.\-/]+$/.test(id)
      ? [
          h("a", { class: "ext", href: `https://arxiv.org/abs/${encodeId(id)}`, target: "_blank", rel: "noopener noreferrer", testid: "arxiv-link" }, "arXiv", icon("external")),
          h("a", { class: "ext", href: `https://arxiv.org/pdf/${encodeId(id)}`, target: "_blank", rel: "noopener noreferrer" }, "PDF", icon("external")),
        ]
      : [];
    return h(
      "div",
      { class: "detail-nav" },
      back,
      h("span", { class: "paper-id", testid: "detail-id" }, id),
      h("span", { class: "spacer" }),
      hasMap ? h("button", { type: "button", class: "btn-link", testid: "show-on-map", title: "Show this paper on the topic map", onclick: () => showOnMap(id) }, icon("map"), "Map") : null,
      external,
      h("button", { type: "button", class: "icon-btn", "aria-label": "Close the paper", title: "Close", testid: "detail-close", onclick: closePaper }, icon("close")),
    );
  }

  function closePaper() {
    state.detail.id = null;
    state.detail.stack = [];
    state.detail.seq++;
    markSelected();
    highlightOnMap(null);
    renderDetailEmpty();
  }

  function renderPaper(p) {
    const pane = $("#detail");
    const facts = h("dl", { class: "facts" });
    const fact = (term, ...value) => append(facts, [h("dt", null, term), h("dd", null, value)]);
    const dates = [dateEl(p.date, "detail-date")];
    if (p.updated && p.updated !== p.date) dates.push(h("span", { class: "muted" }, " · updated "), dateEl(p.updated));
    if (p.version) dates.push(h("span", { class: "muted" }, ` · ${p.version}`));
    fact("Published", dates);
    if (p.categories && p.categories.length) fact("Categories", categoryPills(p, "detail-categories"));
    if (p.topic) {
      const parent = p.topic.parent && p.topic.parent.label && p.topic.parent.label !== p.topic.label ? p.topic.parent : null;
      fact("Topic", h("span", { class: "chips" }, topicChip(p.topic, { testid: "detail-topic" }), parent ? h("span", { class: "chip-group" }, h("span", { class: "muted small" }, "in"), topicChip(parent, { level: "coarse", testid: "detail-parent-topic" })) : null));
    }
    if (p.comment) fact("Comment", h("span", { testid: "detail-comment" }, rich(p.comment)));

    const authors = p.authors && p.authors.length ? h("p", { class: "detail-authors", testid: "detail-authors" }) : null;
    if (authors) {
      const limit = 12;
      if (p.authors.length > limit) {
        const full = p.authors.join(", ");
        authors.append(`${p.authors.slice(0, limit).join(", ")} `);
        authors.append(h("button", { type: "button", class: "link", onclick: () => { authors.textContent = full; } }, `+ ${p.authors.length - limit} more`));
      } else authors.textContent = p.authors.join(", ");
    }
    const hasMap = state.health && state.health.topics;
    clear(
      pane,
      h(
        "article",
        { class: "detail-inner", testid: "paper-detail", dataset: { id: p.id } },
        detailNav(p.id, hasMap),
        h("h2", { class: "detail-title", testid: "detail-title" }, rich(p.title)),
        authors,
        h(
          "div",
          { class: "detail-actions" },
          feedbackButtons(p, { compact: false, prefix: "detail" }),
        ),
        facts,
        h("section", { class: "abstract-section" }, h("h3", null, "Abstract"), h("p", { class: "abstract", testid: "detail-abstract" }, p.abstract ? rich(p.abstract) : h("span", { class: "muted" }, "No abstract in the index."))),
        h("section", { class: "related-section" }, h("h3", null, "Related papers"), h("div", { id: "related", testid: "related-box", dataset: { state: "loading" } }, loadingLines(4))),
      ),
    );
  }

  // ---------------------------------------------------------------- topics

  async function ensureTopics(level) {
    if (state.topics[level]) return state.topics[level];
    if (!state.topicsLoading[level]) {
      state.topicsLoading[level] = api(`/api/topics?level=${level}`)
        .then((answer) => {
          state.topics[level] = answer.topics.slice().sort((a, b) => b.size - a.size || a.id - b.id);
          return state.topics[level];
        })
        .finally(() => {
          delete state.topicsLoading[level];
        });
    }
    return state.topicsLoading[level];
  }

  function fillTopicSelect() {
    const select = $("#f-topic");
    const keep = select.value;
    const groups = [];
    if (state.topics.coarse) groups.push(h("optgroup", { label: "Broad topics" }, state.topics.coarse.map((t) => h("option", { value: `coarse:${t.id}` }, `${t.label} (${t.size})`))));
    if (state.topics.fine) groups.push(h("optgroup", { label: "Topics" }, state.topics.fine.map((t) => h("option", { value: `fine:${t.id}` }, `${t.label} (${t.size})`))));
    clear(select, h("option", { value: "" }, "Any topic"), groups);
    select.value = keep;
  }

  async function openTopicsView() {
    const list = $("#topic-list");
    if (!state.topics[state.topicLevel]) clear(list, loadingLines(8));
    try {
      await ensureTopics(state.topicLevel);
    } catch (err) {
      clear(list, errorBox(err, "Could not load the topics", "topics-error"));
      return;
    }
    renderTopicList();
    if (!state.topic || state.topic.level !== state.topicLevel) {
      const first = state.topics[state.topicLevel][0];
      if (first) showTopic(first.id, state.topicLevel, { switchView: false });
      else clear($("#topic-body"), emptyState("No topics", "This index has no topics at this level."));
    }
  }

  function renderTopicList() {
    const list = $("#topic-list");
    const topics = state.topics[state.topicLevel] || [];
    const needle = $("#topic-filter").value.trim().toLowerCase();
    const shown = needle ? topics.filter((t) => `${t.label} ${(t.keywords || []).join(" ")}`.toLowerCase().includes(needle)) : topics;
    if (!shown.length) {
      clear(list, h("p", { class: "muted pad" }, needle ? "No topic matches." : "No topics."));
      return;
    }
    clear(
      list,
      h(
        "ul",
        { class: "topics" },
        shown.map((t) =>
          h(
            "li",
            null,
            h(
              "button",
              {
                type: "button",
                class: "topic-item",
                testid: "topic-item",
                dataset: { topicId: String(t.id), level: t.level || state.topicLevel },
                "aria-current": state.topic && state.topic.id === t.id && state.topic.level === state.topicLevel ? "true" : null,
                onclick: () => showTopic(t.id, state.topicLevel, { switchView: false }),
              },
              h("span", { class: "dot", style: `background:${topicColor(t.id)}` }),
              h("span", { class: "topic-text" }, h("span", { class: "topic-label" }, t.label), h("span", { class: "topic-keywords" }, (t.keywords || []).slice(0, 3).join(" · "))),
              h("span", { class: "count", title: plural(t.size, "paper") }, t.size.toLocaleString("en")),
            ),
          ),
        ),
      ),
    );
  }

  function setTopicLevel(level) {
    state.topicLevel = level;
    for (const b of $$("[data-level]", $(".topics-side"))) b.setAttribute("aria-pressed", String(b.dataset.level === level));
  }

  async function showTopic(id, level = "fine", { switchView = true, k = 50 } = {}) {
    if (switchView) setView("topics", { load: false });
    if (state.topicLevel !== level) setTopicLevel(level);
    state.topic = { id, level };
    const seq = ++state.topicSeq;
    const body = $("#topic-body");
    body.dataset.state = "loading";
    if (k === 50) clear(body, loadingLines(3), h("div", { class: "gap" }), loadingLines(8));
    ensureTopics(level)
      .then(() => { if (state.topicLevel === level) renderTopicList(); })
      .catch((err) => clear($("#topic-list"), errorBox(err, "Could not load the topics", "topics-error")));
    try {
      const t = await api(`/api/topics/${encodeURIComponent(id)}?level=${level}&k=${k}`);
      if (seq !== state.topicSeq) return;
      renderTopic(t, level, k);
      body.dataset.state = "ready";
      body.dataset.topicId = String(t.id);
      body.scrollTop = 0;
    } catch (err) {
      if (seq !== state.topicSeq) return;
      clear(body, errorBox(err, "Could not load this topic", "topic-error"));
      body.dataset.state = "error";
    }
  }

  function renderTopic(t, level, k) {
    const body = $("#topic-body");
    const parent = t.parent && level === "fine" && t.parent.label ? t.parent : null;
    const hits = t.hits || [];
    clear(
      body,
      h(
        "header",
        { class: "topic-head" },
        h("p", { class: "eyebrow" }, h("span", { class: "dot", style: `background:${topicColor(t.id)}` }), level === "coarse" ? "Broad topic" : "Topic", parent ? [" · in ", topicChip(parent, { level: "coarse", testid: "topic-parent" })] : null),
        h("h1", { testid: "topic-title" }, t.label),
        h("p", { class: "muted" }, plural(t.size, "paper"), t.id < 0 ? " not assigned to any topic" : ""),
        t.keywords && t.keywords.length ? h("ul", { class: "keywords", testid: "topic-keywords", "aria-label": "Keywords" }, t.keywords.map((w) => h("li", null, w))) : null,
        h(
          "div",
          { class: "topic-actions" },
          h("button", { type: "button", class: "btn btn-quiet btn-small", testid: "topic-search", onclick: () => filterByTopic(t, level) }, icon("filter"), "Search in this topic"),
          state.health && state.health.topics ? h("button", { type: "button", class: "btn btn-quiet btn-small", testid: "topic-on-map", onclick: () => showTopicOnMap(t, level) }, icon("map"), "Show on map") : null,
        ),
      ),
      h("h2", { class: "section-title" }, "Papers, nearest the centre first"),
      hits.length
        ? h("ol", { class: "hit-list", testid: "topic-papers" }, hits.map((hit) => hitItem(hit, { testid: "topic-paper", chip: null, scoreLabel: "Similarity to the topic's centre" })))
        : emptyState("No papers", null),
      hits.length < t.size && k < 1000
        ? h("button", { type: "button", class: "btn btn-quiet more", testid: "topic-more", onclick: () => showTopic(t.id, level, { switchView: false, k: Math.min(1000, t.size) }) }, `Show all ${plural(t.size, "paper")}`)
        : null,
    );
  }

  // ---------------------------------------------------------------- map

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loadPlotly.promise) {
      loadPlotly.promise = new Promise((resolve, reject) => {
        const script = h("script", { src: "/static/vendor/plotly.min.js", async: true });
        script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly did not load")));
        script.onerror = () => {
          loadPlotly.promise = null;
          reject(new Error("Could not load the plotting library (/static/vendor/plotly.min.js)."));
        };
        document.head.append(script);
      });
    }
    return loadPlotly.promise;
  }

  function escapePlotly(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

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

  function mapMessage(...children) {
    const box = $("#map-message");
    clear(box, children);
    box.hidden = children.length === 0;
  }

  function mapColors(level) {
    const m = state.map;
    m.colors = m.colors || {};
    if (!m.colors[level]) m.colors[level] = m.data[level].map(topicColor);
    return m.colors[level];
  }

  /** Hover labels: the title, then the paper's topic and broad topic (built once). */
  function mapHover() {
    const m = state.map;
    if (!m.hover) {
      const names = (level) => new Map((m.data[`${level}_topics`] || []).map((t) => [t.id, t.label]));
      const fine = names("fine");
      const coarse = names("coarse");
      m.hover = m.data.titles.map((title, i) => {
        const f = m.data.fine[i];
        const c = m.data.coarse ? m.data.coarse[i] : -1;
        const fineLabel = f >= 0 ? fine.get(f) || `topic ${f}` : "no topic";
        const coarseLabel = c >= 0 ? coarse.get(c) : null;
        const topic = coarseLabel && coarseLabel !== fineLabel ? `${fineLabel} · ${coarseLabel}` : fineLabel;
        return `<b>${wrap(escapePlotly(plain(title)))}</b><br><span style="color:#5d6675">${escapePlotly(topic)}</span>`;
      });
    }
    return m.hover;
  }

  /** Topic labels at their centres, biggest first, skipping any that would overlap a
   * label already placed at the current zoom (recomputed after every zoom or pan). */
  function mapAnnotations(level) {
    const el = $("#map");
    const full = el._fullLayout;
    const xa = full && full.xaxis;
    const ya = full && full.yaxis;
    const fontSize = level === "coarse" ? 13 : 11.5;
    const topics = (state.map.data[`${level}_topics`] || []).filter((t) => t.id >= 0).sort((a, b) => b.size - a.size);
    const placed = [];
    const out = [];
    for (const t of topics) {
      if (xa && ya && xa.range && ya.range && xa._length && ya._length) {
        const px = ((t.x - xa.range[0]) / (xa.range[1] - xa.range[0])) * xa._length;
        const py = ((ya.range[1] - t.y) / (ya.range[1] - ya.range[0])) * ya._length;
        if (px < 0 || px > xa._length || py < 0 || py > ya._length) continue;
        const w = Math.min(t.label.length, 40) * fontSize * 0.62 + 10;
        const hh = fontSize + 10;
        const box = [px - w / 2, py - hh / 2, px + w / 2, py + hh / 2];
        if (placed.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
        placed.push(box);
      } else if (out.length >= 20) break;
      out.push({
        x: t.x,
        y: t.y,
        text: escapePlotly(t.label.length > 40 ? `${t.label.slice(0, 39)}…` : t.label),
        showarrow: false,
        font: { size: fontSize, color: "#1c2330" },
        bgcolor: "rgba(255,255,255,0.85)",
        bordercolor: topicColor(t.id),
        borderwidth: 1,
        borderpad: 3,
        captureevents: false,
      });
      if (out.length >= 80) break;
    }
    return out;
  }

  function relabelMap() {
    const m = state.map;
    if (!m.data || !window.Plotly) return;
    cancelAnimationFrame(m.relabel);
    m.relabel = requestAnimationFrame(() => window.Plotly.relayout($("#map"), { annotations: mapAnnotations(m.level) }));
  }

  async function openMapView() {
    const m = state.map;
    const el = $("#map");
    if (m.plotted) {
      window.Plotly.Plots.resize(el);
      return;
    }
    if (m.loading) return m.loading;
    mapMessage(h("span", { class: "spinner", "aria-hidden": "true" }), state.health ? `Loading the map of ${plural(state.health.papers, "paper")}…` : "Loading the map…");
    el.dataset.state = "loading";
    m.loading = (async () => {
      try {
        const [Plotly, data] = await Promise.all([loadPlotly(), api("/api/map")]);
        m.data = data;
        m.index = new Map(data.ids.map((id, i) => [id, i]));
        await drawMap(Plotly);
        m.plotted = true;
        el.dataset.state = "ready";
        mapMessage();
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

  async function drawMap(Plotly) {
    const m = state.map;
    const el = $("#map");
    const level = m.level;
    const n = m.data.ids.length;
    const size = n > 20000 ? 3 : n > 2000 ? 5 : 8;
    const points = {
      type: "scattergl",
      mode: "markers",
      name: "papers",
      x: m.data.x,
      y: m.data.y,
      customdata: m.data.ids,
      text: mapHover(),
      hovertemplate: "%{text}<extra></extra>",
      marker: { color: mapColors(level), size, opacity: n > 20000 ? 0.7 : 0.85, line: { width: 0 } },
    };
    const results = {
      type: "scattergl",
      mode: "markers",
      name: "search results",
      x: [],
      y: [],
      customdata: [],
      text: [],
      hovertemplate: "%{text}<extra></extra>",
      marker: { color: "#1c2330", size: size + 6, symbol: "circle", line: { color: "#ffffff", width: 1.5 } },
    };
    const selected = {
      type: "scattergl",
      mode: "markers",
      name: "open paper",
      x: [],
      y: [],
      customdata: [],
      text: [],
      hovertemplate: "%{text}<extra></extra>",
      marker: { color: "rgba(52,70,176,0.18)", size: size + 14, symbol: "circle", line: { color: "#3446b0", width: 2.5 } },
    };
    const layout = {
      margin: { l: 8, r: 8, t: 8, b: 8 },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      showlegend: false,
      dragmode: "pan",
      hovermode: "closest",
      hoverlabel: { bgcolor: "#ffffff", bordercolor: "#d5d9e0", font: { family: getComputedStyle(document.body).fontFamily, size: 12.5, color: "#1c2330" }, align: "left" },
      font: { family: getComputedStyle(document.body).fontFamily },
      xaxis: { visible: false, showgrid: false, zeroline: false },
      yaxis: { visible: false, showgrid: false, zeroline: false },
      annotations: [],
    };
    const config = {
      displaylogo: false,
      responsive: true,
      scrollZoom: true,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"],
    };
    await Plotly.newPlot(el, [points, results, selected], layout, config);
    el.on("plotly_click", (event) => {
      const p = event && event.points && event.points[0];
      if (!p) return;
      const id = p.customdata !== undefined ? p.customdata : p.curveNumber === 0 ? m.data.ids[p.pointIndex ?? p.pointNumber] : undefined;
      if (typeof id === "string" && id) openPaper(id);
    });
    el.on("plotly_relayout", (event) => {
      if (event && Object.keys(event).some((key) => /^(xaxis|yaxis|autosize|width|height)/.test(key))) relabelMap();
    });
    relabelMap();
    if (m.showResults) updateMapResults();
    if (state.detail.id) highlightOnMap(state.detail.id);
  }

  function pointsTrace(ids) {
    const m = state.map;
    const hover = mapHover();
    const idx = ids.map((id) => m.index.get(id)).filter((i) => i !== undefined);
    return { x: [idx.map((i) => m.data.x[i])], y: [idx.map((i) => m.data.y[i])], customdata: [idx.map((i) => m.data.ids[i])], text: [idx.map((i) => hover[i])] };
  }

  function updateMapResults() {
    const m = state.map;
    if (!m.plotted) return;
    const ids = m.showResults ? state.search.hits.map((hit) => hit.id) : [];
    window.Plotly.restyle($("#map"), pointsTrace(ids), [1]);
  }

  function highlightOnMap(id) {
    const m = state.map;
    if (!m.plotted) return;
    window.Plotly.restyle($("#map"), pointsTrace(id ? [id] : []), [2]);
  }

  function setMapLevel(level) {
    const m = state.map;
    m.level = level;
    for (const b of $$("[data-map-level]")) b.setAttribute("aria-pressed", String(b.dataset.mapLevel === level));
    if (!m.plotted) return;
    const el = $("#map");
    window.Plotly.restyle(el, { "marker.color": [mapColors(level)] }, [0]);
    relabelMap();
  }

  async function showOnMap(id) {
    setView("map");
    await openMapView();
    const m = state.map;
    if (!m.plotted) return;
    const i = m.index.get(id);
    if (i === undefined) return;
    highlightOnMap(id);
    const span = (arr) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of arr) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      return (hi - lo) || 1;
    };
    const rx = span(m.data.x) / 8;
    const ry = span(m.data.y) / 8;
    window.Plotly.relayout($("#map"), { "xaxis.range": [m.data.x[i] - rx, m.data.x[i] + rx], "yaxis.range": [m.data.y[i] - ry, m.data.y[i] + ry] });
  }

  async function showTopicOnMap(t, level) {
    setView("map");
    if (state.map.level !== level) setMapLevel(level);
    await openMapView();
    const m = state.map;
    if (!m.plotted) return;
    const xs = [];
    const ys = [];
    m.data[level].forEach((topic, i) => {
      if (topic === t.id) {
        xs.push(m.data.x[i]);
        ys.push(m.data.y[i]);
      }
    });
    if (!xs.length) return;
    const pad = (lo, hi) => Math.max((hi - lo) * 0.25, 1);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    window.Plotly.relayout($("#map"), { "xaxis.range": [x0 - pad(x0, x1), x1 + pad(x0, x1)], "yaxis.range": [y0 - pad(y0, y1), y1 + pad(y0, y1)] });
  }

  // ---------------------------------------------------------------- views

  function setView(view, { load = true, focus = false } = {}) {
    state.view = view;
    for (const tab of $$('[role="tab"]')) {
      const on = tab.dataset.view === view;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    for (const panel of $$(".view")) panel.hidden = panel.id !== `view-${view}`;
    document.body.dataset.view = view;
    if (!load) return;
    if (view === "topics") openTopicsView();
    if (view === "map") openMapView();
  }

  function wireTabs() {
    const tabs = $$('[role="tab"]');
    for (const tab of tabs) {
      tab.addEventListener("click", () => {
        if (!tab.disabled) setView(tab.dataset.view);
      });
      tab.addEventListener("keydown", (event) => {
        const i = tabs.indexOf(tab);
        let next = null;
        if (event.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
        else if (event.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
        else if (event.key === "Home") next = tabs[0];
        else if (event.key === "End") next = tabs[tabs.length - 1];
        if (next && !next.disabled) {
          event.preventDefault();
          setView(next.dataset.view, { focus: true });
        }
      });
    }
  }

  // ---------------------------------------------------------------- start

  async function loadHealth() {
    const info = $('[data-testid="index-info"]');
    try {
      const health = await api("/api/health");
      state.health = health;
      const parts = [plural(health.papers, "paper")];
      info.replaceChildren(h("strong", null, parts[0]));
      info.title = `index ${health.version} · ${health.index_type || "?"} index · ${health.backend || "?"} embeddings · paperscope server up ${Math.round(health.uptime_s)} s`;
      info.dataset.papers = String(health.papers);
      if (!health.topics) {
        for (const view of ["topics", "map"]) {
          const tab = $(`#tab-${view}`);
          tab.disabled = true;
          tab.title = "This index has no topics (paperscope topics --refit builds them)";
        }
        $("#f-topic").closest("label").hidden = true;
      }
      if (health.token_required && !token()) showTokenPrompt("This server needs an access token: open the page as /#token=… or enter it here.");
      return health;
    } catch (err) {
      info.textContent = "Server unreachable";
      info.classList.add("bad");
      showBanner(icon("alert"), h("span", { class: "banner-text", role: "alert", testid: "banner-message" }, err.message));
      return null;
    }
  }

  async function loadTopicsInBackground() {
    try {
      const [fine, coarse] = await Promise.all([ensureTopics("fine"), ensureTopics("coarse").catch(() => null)]);
      fillTopicSelect();
      renderActiveFilters();
      const info = $('[data-testid="index-info"]');
      info.append(h("span", { class: "sep", "aria-hidden": "true" }, "·"), plural(fine.length, "topic"));
      if (coarse) info.append(h("span", { class: "muted" }, ` in ${coarse.length} broad`));
      if (!$("#results").dataset.state) {
        clear($("#results"));
        renderSearchWelcome();
      }
    } catch {
      /* the Topics view shows the error when opened */
    }
  }

  function wireSearch() {
    $("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      runSearch();
    });
    $("#mode").addEventListener("change", () => {
      if (state.search.q && $("#q").value.trim()) runSearch();
    });
    $("#filter-toggle").addEventListener("click", () => setFiltersOpen($("#filters").hidden));
    for (const id of ["#f-category", "#f-since", "#f-until"]) {
      $(id).addEventListener("change", renderActiveFilters);
      $(id).addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          renderActiveFilters();
          runSearch();
        }
      });
    }
    $("#f-topic").addEventListener("change", () => {
      renderActiveFilters();
      if (state.search.q) runSearch();
    });
    $("#filters-clear").addEventListener("click", () => {
      for (const id of ["#f-category", "#f-since", "#f-until", "#f-topic"]) $(id).value = "";
      renderActiveFilters();
      if (state.search.q) runSearch();
    });
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        setView("search", { load: false });
        $("#q").focus();
        $("#q").select();
      }
    });
  }

  function wireOthers() {
    for (const b of $$("[data-level]", $(".topics-side"))) {
      b.addEventListener("click", () => {
        setTopicLevel(b.dataset.level);
        $("#topic-filter").value = "";
        openTopicsView();
      });
    }
    $("#topic-filter").addEventListener("input", renderTopicList);
    for (const b of $$("[data-map-level]")) b.addEventListener("click", () => setMapLevel(b.dataset.mapLevel));
    $("#map-show-results").addEventListener("change", (event) => {
      state.map.showResults = event.target.checked;
      updateMapResults();
    });
    $("#feedback-clear").addEventListener("click", () => {
      state.feedback = { like: [], unlike: [] };
      saveFeedback();
      feedbackChanged();
    });
    window.addEventListener("storage", (event) => {
      if (event.key === STORE_FEEDBACK) {
        state.feedback = loadFeedback();
        feedbackChanged();
      }
    });
  }

  async function start() {
    adoptTokenFromUrl();
    wireTabs();
    wireSearch();
    wireOthers();
    renderDetailEmpty();
    mapMessage();
    feedbackChanged();
    const url = new URL(window.location.href);
    const q = url.searchParams.get("q");
    const mode = url.searchParams.get("mode");
    if (mode && MODE_NAMES[mode]) $("#mode").value = mode;
    const health = await loadHealth();
    if (q) {
      $("#q").value = q;
      runSearch();
    } else renderSearchWelcome();
    if (health && health.topics) loadTopicsInBackground();
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
