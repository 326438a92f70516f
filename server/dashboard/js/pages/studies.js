// The studies list: search, filter by state, sort and page on the server (summaries from
// aggregates, never every trial); refreshed every 3 s, redrawn only when it changed.

import { get, paths } from "../api.js";
import { badge, countBar, debounce, fmtAgo, fmtInt, fmtNumber, fmtTime, h, replace } from "../dom.js";
import { poll } from "../live.js";

const PAGE = 50;
const COLUMNS = [
  ["name", "Study"],
  ["state", "State"],
  ["searcher", "Searcher"],
  ["n_trials", "Trials"],
  ["best_value", "Best value"],
  ["last_activity", "Last activity"],
  ["created_at", "Created"],
];
const STATES = ["running", "queued", "stopped", "done", "idle", "empty"];
const saved = { q: "", status: null, sort: "last_activity", order: "desc", offset: 0 };

export function mount(root) {
  const query = saved; // kept while the page is left and come back to
  let version = null;
  const search = h("input", {
    type: "search", placeholder: "Search by name or searcher…", value: query.q,
    "aria-label": "search studies", style: { width: "280px" },
  });
  const chips = h("div.chips");
  const table = h("div.table-wrap");
  const pager = h("div.pager");
  root.append(
    h("div.page-head", h("h1", "Studies"), h("span.spacer"), search),
    h("div.card", h("div.row", chips), h("div", { style: { height: "10px" } }), table, pager),
  );

  async function refresh(force = false) {
    const data = await get(paths.studies(), {
      q: query.q, status: query.status, sort: query.sort, order: query.order,
      offset: query.offset, limit: PAGE,
    });
    if (!force && data.version === version) return;
    version = data.version;
    render(data);
  }

  function reload() {
    version = null;
    refresh(true).catch(() => {});
  }

  search.addEventListener("input", debounce(() => {
    query.q = search.value.trim();
    query.offset = 0;
    reload();
  }, 250));

  function render(data) {
    const total = Object.values(data.states).reduce((a, b) => a + b, 0);
    replace(chips,
      chip("All", total, query.status === null, () => { query.status = null; query.offset = 0; reload(); }),
      STATES.filter((s) => data.states[s]).map((s) => chip(s, data.states[s], query.status === s,
        () => { query.status = s; query.offset = 0; reload(); })));
    if (!data.total) {
      replace(table, h("div.empty-state", query.q || query.status
        ? "No study matches."
        : [h("h2", "No studies yet"),
          h("p", "Run one with ", h("code", "hpo run train.py:objective --storage …"),
            " or ", h("a", { href: "#/new-comparison" }, "start a comparison"), ".")]));
      replace(pager);
      return;
    }
    const head = h("tr", COLUMNS.map(([key, label]) => {
      const th = h("th.sortable", { dataset: { sort: key } }, label);
      if (query.sort === key) th.classList.add(`sorted-${query.order}`);
      th.addEventListener("click", () => {
        query.order = query.sort === key && query.order === "desc" ? "asc" : "desc";
        if (query.sort !== key) query.order = key === "name" || key === "searcher" ? "asc" : "desc";
        query.sort = key;
        query.offset = 0;
        reload();
      });
      return th;
    }));
    const rows = data.studies.map((s) => h("tr", { dataset: { studyId: s.study_id } },
      h("td",
        h("a", { href: `#/studies/${s.study_id}` }, s.name),
        s.comparison ? h("div.small.muted", "in ",
          h("a", { href: `#/comparisons/${s.comparison.comparison_id}` }, s.comparison.comparison),
          ` · ${s.comparison.label} · seed ${s.comparison.seed}`) : null),
      h("td", badge(s.state)),
      h("td", h("code", s.searcher)),
      h("td.num", fmtInt(s.n_trials), countBar(s.counts)),
      h("td.num", { title: s.best_number === null ? "" : `trial ${s.best_number}` },
        fmtNumber(s.best_value), s.best_value === null ? null : h("div.small.muted", s.direction)),
      h("td.nowrap", { title: fmtTime(s.last_activity) }, fmtAgo(s.last_activity)),
      h("td.nowrap.muted", fmtTime(s.created_at)),
    ));
    replace(table, h("table.grid#studies-table", h("thead", head), h("tbody", rows)));
    const last = Math.min(data.offset + data.limit, data.total);
    replace(pager,
      h("span", `${fmtInt(data.offset + 1)}–${fmtInt(last)} of ${fmtInt(data.total)}`),
      h("button", { type: "button", disabled: data.offset === 0,
        onclick: () => { query.offset = Math.max(0, query.offset - PAGE); reload(); } }, "‹ Previous"),
      h("button", { type: "button", disabled: last >= data.total,
        onclick: () => { query.offset += PAGE; reload(); } }, "Next ›"));
  }

  return poll(() => refresh(), 3000);
}

function chip(label, count, active, onclick) {
  return h(`button.chip${active ? ".active" : ""}`, { type: "button", onclick, dataset: { state: label } },
    label, h("span.count", fmtInt(count)));
}
