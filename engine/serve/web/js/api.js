/* Talking to paperscope serve: the fetch wrapper, its errors, and the access token.
 *
 * A server bound beyond loopback wants "Authorization: Bearer TOKEN". The token arrives
 * once in the URL (/#token=… or ?token=…), is moved to sessionStorage and taken out of
 * the address bar, so it is neither bookmarked nor shown to whoever looks at the screen. */

import { $, h, icon, showBanner } from "./dom.js";

const STORE_TOKEN = "paperscope.token";

/** sessionStorage or localStorage, or null where the browser forbids them. */
export function storage(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null;
  }
}

export function adoptTokenFromUrl() {
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

export function token() {
  const store = storage("session");
  return store ? store.getItem(STORE_TOKEN) : null;
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The JSON answer of ``path``; an ApiError carrying the server's own message otherwise. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const response = await request(path, { method, body, signal, accept: "application/json" });
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw await failure(response, payload);
  if (payload === null) throw new ApiError("The server's answer was not JSON.", response.status);
  return payload;
}

/** The binary answer of ``path`` (an ArrayBuffer), as ``api`` does for JSON. */
export async function apiBytes(path, { signal } = {}) {
  const response = await request(path, { method: "GET", signal, accept: "application/octet-stream" });
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    throw await failure(response, payload);
  }
  return response.arrayBuffer();
}

async function request(path, { method, body, signal, accept }) {
  const headers = { Accept: accept };
  const secret = token();
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
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
}

/** The error of a refused request, with the server's own message where it sent one. */
async function failure(response, payload) {
  const message =
    payload && typeof payload.error === "string" && payload.error
      ? payload.error
      : `The server answered ${response.status} ${response.statusText}`.trim();
  if (response.status === 401) showTokenPrompt(message);
  return new ApiError(message, response.status);
}

/** A request replaced by a newer one (a new search) is no error to show. */
export const isAbort = (err) => err && err.name === "AbortError";

/** Asks for the token in the banner; a reload then starts the page over with it. */
export function showTokenPrompt(message) {
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
