// Comparisons: each with its problem, searchers, seeds, budget, progress and job state.

import { get, paths } from "../api.js";
import { badge, fmtInt, fmtTime, h, replace } from "../dom.js";
import { poll } from "../live.js";

export function mount(root) {
  let version = null;
  const body = h("div.table-wrap");
  root.append(
    h("div.page-head", h("h1", "Comparisons"), h("span.spacer"),
      h("a.button.primary", { href: "#/new-comparison" }, "New comparison")),
    h("div.card", body));

  async function refresh() {
    const data = await get(paths.comparisons());
    if (data.version === version) return;
    version = data.version;
    if (!data.comparisons.length) {
      replace(body, h("div.empty-state", h("h2", "No comparisons yet"),
        h("p", "A comparison runs several searchers on one problem with several seeds and tells which wins, with honest statistics."),
        h("p", h("a", { href: "#/new-comparison" }, "Start one"), " or run ", h("code", "hpo compare branin --searchers random,tpe --seeds 5"), ".")));
      return;
    }
    const rows = data.comparisons.map((c) => {
      const p = c.progress;
      const pct = p.expected ? Math.min(100, (100 * p.finished) / p.expected) : 0;
      const job = c.job ? c.job.state : (p.finished >= p.expected ? "done" : "idle");
      return h("tr", { dataset: { comparisonId: c.comparison_id } },
        h("td.nowrap", h("a", { href: `#/comparisons/${c.comparison_id}` }, c.name)),
        h("td", h("code", c.problem)),
        h("td", c.searchers.join(", ")),
        h("td.num", fmtInt(c.seeds.length)),
        h("td.num", fmtInt(c.n_trials)),
        h("td", h("div.progress", { title: `${p.finished} of ${p.expected} trials` }, h("span", { style: { width: `${pct}%` } })),
          h("div.small.muted", `${fmtInt(p.finished)} / ${fmtInt(p.expected)} trials${p.running ? `, ${p.running} running` : ""}`)),
        h("td", badge(job, job === "running" ? "running" : job === "failed" ? "failed" : job === "done" ? "done" : "idle")),
        h("td.nowrap.muted", fmtTime(c.created_at)));
    });
    replace(body, h("table.grid#comparisons-table",
      h("thead", h("tr", ["Comparison", "Problem", "Searchers", "Seeds", "Trials each", "Progress", "Job", "Created"].map((t) => h("th", t)))),
      h("tbody", rows)));
  }

  return poll(refresh, 3000);
}
