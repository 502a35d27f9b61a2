/* The search's filters (categories, dates, a topic): reading them, the chips that show
 * the active ones, and the topic menu. They only say that they changed; search.js
 * decides whether that reruns a search. */

import { $, clear, h, icon } from "./dom.js";
import { topicLabel, topicList } from "./topics.js";

let changed = () => {};

/** ``{categories: [...], since, until, topic: {level, id} | null}`` from the form. */
export function currentFilters() {
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

export function activeFilterCount(f) {
  return f.categories.length + (f.since ? 1 : 0) + (f.until ? 1 : 0) + (f.topic ? 1 : 0);
}

/** One removable chip per active filter, so they show while the form is folded away. */
export function renderActiveFilters() {
  const f = currentFilters();
  const chip = (text, remove, testid) =>
    h(
      "span",
      { class: "filter-chip", testid },
      text,
      h("button", { type: "button", "aria-label": `Remove filter ${text}`, title: "Remove filter", onclick: () => { remove(); renderActiveFilters(); changed(); } }, icon("close")),
    );
  const chips = [];
  for (const c of f.categories) {
    chips.push(chip(`category ${c}`, () => { $("#f-category").value = currentFilters().categories.filter((x) => x !== c).join(", "); }, "filter-chip-category"));
  }
  if (f.since) chips.push(chip(`from ${f.since}`, () => { $("#f-since").value = ""; }, "filter-chip-since"));
  if (f.until) chips.push(chip(`to ${f.until}`, () => { $("#f-until").value = ""; }, "filter-chip-until"));
  if (f.topic) chips.push(chip(`${f.topic.level === "coarse" ? "broad topic" : "topic"}: ${topicLabel(f.topic.id, f.topic.level)}`, () => { $("#f-topic").value = ""; }, "filter-chip-topic"));
  clear($("#active-filters"), chips);
  $("#filter-toggle").textContent = chips.length ? `Filters (${chips.length})` : "Filters";
}

function setFiltersOpen(open) {
  $("#filters").hidden = !open;
  $("#filter-toggle").setAttribute("aria-expanded", String(open));
}

/** Both levels' topics in the menu, once they have arrived; the choice survives the refill. */
export function fillTopicSelect() {
  const select = $("#f-topic");
  const keep = select.value;
  const option = (level) => (t) => h("option", { value: `${level}:${t.id}` }, `${t.label} (${t.size})`);
  const groups = [];
  if (topicList("coarse")) groups.push(h("optgroup", { label: "Broad topics" }, topicList("coarse").map(option("coarse"))));
  if (topicList("fine")) groups.push(h("optgroup", { label: "Topics" }, topicList("fine").map(option("fine"))));
  clear(select, h("option", { value: "" }, "Any topic"), groups);
  select.value = keep;
}

/** Sets every filter (from an address): ``{categories, since, until, topic}``. */
export function setFilters(f) {
  $("#f-category").value = f.categories.join(", ");
  $("#f-since").value = f.since;
  $("#f-until").value = f.until;
  if (f.topic) setTopicFilter({ id: f.topic.id, label: topicLabel(f.topic.id, f.topic.level) }, f.topic.level);
  else $("#f-topic").value = "";
  renderActiveFilters();
}

/** Sets the topic filter, adding the topic to the menu if the lists are not there yet. */
export function setTopicFilter(topic, level) {
  const select = $("#f-topic");
  const value = `${level}:${topic.id}`;
  if (!Array.from(select.options).some((o) => o.value === value)) {
    select.append(h("option", { value }, topic.label || `topic ${topic.id}`));
  }
  select.value = value;
  renderActiveFilters();
}

/** ``onChange``: a filter changed (rerun a shown search); ``onSubmit``: Enter in a filter field. */
export function wireFilters({ onChange, onSubmit }) {
  changed = onChange;
  $("#filter-toggle").addEventListener("click", () => setFiltersOpen($("#filters").hidden));
  for (const id of ["#f-category", "#f-since", "#f-until"]) {
    $(id).addEventListener("change", renderActiveFilters);
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        renderActiveFilters();
        onSubmit();
      }
    });
  }
  $("#f-topic").addEventListener("change", () => {
    renderActiveFilters();
    onChange();
  });
  $("#filters-clear").addEventListener("click", () => {
    for (const id of ["#f-category", "#f-since", "#f-until", "#f-topic"]) $(id).value = "";
    renderActiveFilters();
    onChange();
  });
}
