/* Light or dark: the reader's choice (auto, light, dark; kept in this browser), "auto"
 * following the system's prefers-color-scheme as it changes. The CSS reads the result
 * from <html data-theme>. */

import { storage } from "./api.js";

const STORE_THEME = "paperscope.theme";
const CHOICES = ["auto", "light", "dark"];
const NAMES = { auto: "Theme: as the system", light: "Theme: light", dark: "Theme: dark" };
const SYMBOLS = { auto: "◐", light: "☀", dark: "☾" };
const system = window.matchMedia("(prefers-color-scheme: dark)");
const listeners = [];

function choice() {
  const store = storage("local");
  const saved = store && store.getItem(STORE_THEME);
  return CHOICES.includes(saved) ? saved : "auto";
}

/** Calls ``listener`` when the theme changes (the map redraws in the new colours). */
export function onThemeChange(listener) {
  listeners.push(listener);
}

function apply() {
  const picked = choice();
  const theme = picked === "auto" ? (system.matches ? "dark" : "light") : picked;
  const changed = document.documentElement.dataset.theme !== theme;
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme-switch");
  if (button) {
    button.textContent = SYMBOLS[picked];
    button.title = `${NAMES[picked]} (click to change)`;
    button.setAttribute("aria-label", NAMES[picked]);
    button.dataset.choice = picked;
  }
  if (changed) for (const listener of listeners) listener(theme);
}

export function wireTheme() {
  apply();
  system.addEventListener("change", apply);
  document.getElementById("theme-switch").addEventListener("click", () => {
    const next = CHOICES[(CHOICES.indexOf(choice()) + 1) % CHOICES.length];
    const store = storage("local");
    if (store) store.setItem(STORE_THEME, next);
    apply();
  });
}
