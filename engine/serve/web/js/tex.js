/* Titles and abstracts hold inline TeX ($M_\odot$, \'e). Rather than ship a TeX engine,
 * the common commands become Unicode text, and _ / ^ become <sub> / <sup> elements. */

import { h } from "./dom.js";

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
/* font and sizing commands vanish; their argument is read as it comes */
const SILENT = /^(?:rm|mathrm|mathbf|mathit|mathcal|mathbb|mathsf|mathtt|mathscr|text|textrm|textbf|textit|emph|it|bf|boldsymbol|bm|operatorname|left|right|big|Big|bigg|displaystyle|scriptstyle|hat|bar|tilde|vec|dot|overline|widetilde|mbox|hbox)$/;

/** Text mode: accents, escaped characters and font commands outside $…$. */
function texText(s) {
  return s
    .replace(/\\(?:textbf|textit|textrm|texttt|textsc|emph|mathrm|text)\{([^{}]*)\}/g, "$1")
    .replace(/\{?\\(['`^"~=.])\{?([A-Za-z])\}?\}?/g, (_, accent, ch) => ch + ACCENTS[accent])
    .replace(/\{?\\([cvuH])\{([A-Za-z])\}\}?/g, (_, accent, ch) => ch + ACCENTS[accent])
    .replace(/\\([&%_#$])/g, "$1")
    .replace(/``|''/g, '"')
    .normalize("NFC");
}

/** Index of the brace closing the one at ``start`` (or the end of ``src``). */
function groupEnd(src, start) {
  let depth = 0;
  for (let i = start; i < src.length; i++) {
    if (src[i] === "\\") i++;
    else if (src[i] === "{") depth++;
    else if (src[i] === "}" && --depth === 0) return i;
  }
  return src.length;
}

/** Math mode into ``out``; ``depth`` bounds nested scripts so hostile input cannot recurse deeply. */
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
        if (!SILENT.test(name)) run += name;
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
export function rich(s) {
  const frag = document.createDocumentFragment();
  if (!s) return frag;
  const parts = String(s).split(/(?<!\\)\$\$?/);
  // an odd number of $ is not math we can trust, and thousands of pieces are not worth it
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

/** The same as one plain string, for attributes (title, aria-label) and the map's hover. */
export function plain(s) {
  if (!s || !/[\\$]/.test(s)) return s || "";
  const span = document.createElement("span");
  span.append(rich(s));
  return span.textContent;
}
