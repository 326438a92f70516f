// The new-comparison form: a built-in problem, searchers, seeds and a budget; submits a
// comparison job to the server and opens the comparison, which fills in live.

import { get, paths, post } from "../api.js";
import { ensureToken } from "../auth.js";
import { fmtInt, fmtNumber, h, replace, toast } from "../dom.js";

const DEFAULT_SEARCHERS = ["random", "tpe", "gp"];
const GROUPS = [["synthetic", "Synthetic functions (known optimum)"], ["sklearn", "scikit-learn tasks"],
  ["lcbench", "LCBench surrogates"], ["", "Other"]];

export function mount(root) {
  root.append(h("div.page-head", h("div", h("div.crumbs", h("a", { href: "#/comparisons" }, "Comparisons"), " / new"), h("h1", "New comparison"))));
  const holder = h("div.card", h("p.muted", "Loading the problems and searchers…"));
  root.append(holder);
  get(paths.catalog()).then((catalog) => render(holder, catalog)).catch((err) => {
    replace(holder, h("p", `Could not load the catalog: ${err.message}`));
  });
}

function render(holder, catalog) {
  const problems = catalog.problems.filter((p) => p.available && !p.multi_fidelity);
  const byGroup = new Map(GROUPS.map(([tag]) => [tag, []]));
  for (const p of problems) {
    const tag = GROUPS.find(([t]) => t && p.tags.includes(t))?.[0] ?? "";
    byGroup.get(tag).push(p);
  }
  const problem = h("select#problem", { name: "problem", required: true, style: { maxWidth: "420px" } },
    GROUPS.filter(([tag]) => byGroup.get(tag).length).map(([tag, label]) =>
      h("optgroup", { label }, byGroup.get(tag).map((p) => h("option", { value: p.name, selected: p.name === "branin" }, p.name)))));
  const problemInfo = h("div.hint");
  const showProblem = () => {
    const p = problems.find((x) => x.name === problem.value);
    if (!p) return;
    problemInfo.textContent = `${p.direction}s over ${p.n_params} parameter${p.n_params === 1 ? "" : "s"} (${p.params.join(", ")}); `
      + (p.optimum === null ? "optimum unknown: regret against the best value seen." : `known optimum ${fmtNumber(p.optimum)}: normalized regret on a log axis.`);
  };
  problem.addEventListener("change", showProblem);

  const usable = catalog.searchers.filter((s) => s.available && !s.needs_budget);
  const boxes = usable.map((s) => h("label.chip", { style: { cursor: "pointer" } },
    h("input", { type: "checkbox", name: "searcher", value: s.name, checked: DEFAULT_SEARCHERS.includes(s.name) }), ` ${s.name}`));
  const missing = catalog.searchers.filter((s) => !s.available).map((s) => s.name);
  const seeds = h("input#seeds", { type: "number", name: "seeds", min: 1, max: 100, value: 6, required: true, style: { width: "100px" } });
  const trials = h("input#n-trials", { type: "number", name: "n_trials", min: 1, max: 100000, value: 30, required: true, style: { width: "100px" } });
  const name = h("input#name", { type: "text", name: "name", placeholder: "(automatic)", maxLength: 200, style: { width: "320px" } });
  const total = h("span.hint");
  const submit = h("button.primary#submit", { type: "submit" }, "Start comparison");
  const form = h("form#new-comparison",
    h("label.field", h("span", "Problem"), problem, problemInfo),
    h("div.field", h("span", "Searchers"), h("div.chips", boxes),
      h("span.hint", "Each runs once per seed on the same problem and budget.",
        missing.length ? ` Not installed on this server: ${missing.join(", ")}.` : "")),
    h("div.row", { style: { gap: "24px", alignItems: "flex-start" } },
      h("label.field", h("span", "Seeds"), seeds, h("span.hint", "≥ 6 for a significance test")),
      h("label.field", h("span", "Trials per study"), trials),
      h("label.field", h("span", "Name"), name)),
    h("div.row", submit, total));
  const update = () => {
    const n = form.querySelectorAll("input[name=searcher]:checked").length;
    total.textContent = `${fmtInt(n)} searcher${n === 1 ? "" : "s"} × ${fmtInt(Number(seeds.value) || 0)} seeds × ${fmtInt(Number(trials.value) || 0)} trials = ${fmtInt(n * (Number(seeds.value) || 0) * (Number(trials.value) || 0))} trials in all.`;
    submit.disabled = n === 0;
  };
  form.addEventListener("input", update);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const searchers = [...form.querySelectorAll("input[name=searcher]:checked")].map((b) => b.value);
    if (!searchers.length) return;
    if (!(await ensureToken("start a comparison"))) return;
    submit.disabled = true;
    try {
      const body = { problem: problem.value, searchers, seeds: Number(seeds.value), n_trials: Number(trials.value), run: true };
      if (name.value.trim()) body.name = name.value.trim();
      const created = await post(paths.createComparison(), body);
      toast(`Comparison ${created.name} started.`, "ok");
      window.location.hash = `#/comparisons/${created.comparison_id}`;
    } catch (err) {
      toast(`Could not start the comparison: ${err.message}`, "error");
      submit.disabled = false;
    }
  });
  replace(holder, form);
  showProblem();
  update();
}
