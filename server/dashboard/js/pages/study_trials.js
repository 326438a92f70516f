// The study page's trial table: state filter, text filter (``C>10 kernel=rbf``), sorting
// and paging, all on the server; a click on a row shows the whole trial (error text,
// reports, attributes). Running trials can be failed and failed ones re-run (token).

import { get, paths, post } from "../api.js";
import { ensureToken } from "../auth.js";
import { badge, debounce, fmtAgo, fmtDuration, fmtInt, fmtNumber, fmtTime, fmtValue, h, replace, toast } from "../dom.js";

const PAGE = 25;
const STATE_FILTERS = ["COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAILED"];

export function trialTable(studyId, overview, onChange) {
  const q = { states: null, text: "", sort: "number", order: "desc", offset: 0 };
  const params = overview.params.map((p) => p.name);
  const metrics = overview.features.metrics;
  const showMember = overview.features.portfolio || overview.features.pbt;
  const expanded = new Set();
  const chips = h("div.chips");
  const filter = h("input", { type: "search", placeholder: "Filter: C>10 kernel=rbf value<0.5 timeout…",
    "aria-label": "filter trials", style: { width: "320px" } });
  const body = h("div.table-wrap");
  const pager = h("div.pager");
  const card = h("div.card#trials",
    h("h2", "Trials"),
    h("div.row", chips, h("span.spacer"), filter),
    h("div", { style: { height: "10px" } }), body, pager);
  let last = null;

  filter.addEventListener("input", debounce(() => { q.text = filter.value.trim(); q.offset = 0; refresh(); }, 250));

  function renderChips() {
    const counts = overview.summary.counts;
    replace(chips,
      h(`button.chip${q.states === null ? ".active" : ""}`, { type: "button",
        onclick: () => { q.states = null; q.offset = 0; refresh(); } }, "All", h("span.count", fmtInt(overview.summary.n_trials))),
      STATE_FILTERS.filter((s) => counts[s]).map((s) => h(`button.chip${q.states === s ? ".active" : ""}`, {
        type: "button", dataset: { state: s },
        onclick: () => { q.states = s; q.offset = 0; refresh(); } }, s, h("span.count", fmtInt(counts[s])))));
  }

  const columns = [
    ["number", "#"], ["state", "State"], ["value", "Value"],
    ...params.map((p) => [p, p]),
    ...metrics.map((m) => [`metrics.${m}`, m]),
    ...(showMember ? [["member", "Member"]] : []),
    ["duration", "Duration"], ["start", "Started"], ["heartbeat", "Heartbeat"], ["error", "Error"],
  ];

  function header() {
    return h("tr", columns.map(([key, label]) => {
      const th = h("th.sortable", { dataset: { sort: key } }, label);
      if (q.sort === key) th.classList.add(`sorted-${q.order}`);
      th.addEventListener("click", () => {
        q.order = q.sort === key && q.order === "asc" ? "desc" : "asc";
        q.sort = key;
        q.offset = 0;
        refresh();
      });
      return th;
    }));
  }

  function cells(t) {
    const member = t.searcher_info?.member;
    const info = t.searcher_info || {};
    return [
      h("td.num", String(t.number)),
      h("td", badge(t.state)),
      h("td.num", fmtNumber(t.value)),
      ...params.map((p) => h("td.num", fmtValue(t.params[p]))),
      ...metrics.map((m) => h("td.num", fmtValue(t.metrics[m]))),
      ...(showMember ? [h("td", member === undefined ? "–"
        : typeof member === "number" ? `#${member} ${info.action || ""}${info.donor !== undefined ? ` ←#${info.donor}` : ""}` : String(member))] : []),
      h("td.num.nowrap", t.state === "RUNNING" && t.datetime_start
        ? `${fmtDuration((Date.now() - Date.parse(t.datetime_start)) / 1000)} so far` : fmtDuration(t.duration)),
      h("td.nowrap", fmtTime(t.datetime_start)),
      h("td.nowrap", { title: fmtTime(t.heartbeat) }, t.state === "RUNNING" ? (t.heartbeat ? fmtAgo(t.heartbeat) : "never") : "–"),
      h("td.error", { title: t.error || "" }, t.error ? t.error.trim().split("\n").slice(-1)[0] : ""),
      h("td.nowrap", action(t)),
    ];
  }

  function action(t) {
    if (t.state === "RUNNING" || t.state === "WAITING") {
      return h("button.small.danger", { type: "button", dataset: { action: "fail" },
        onclick: (e) => { e.stopPropagation(); failTrial(t); } }, "Fail");
    }
    if (t.state === "FAILED") {
      return h("button.small", { type: "button", dataset: { action: "rerun" },
        onclick: (e) => { e.stopPropagation(); rerunTrial(t); } }, "Re-run");
    }
    return "";
  }

  async function failTrial(t) {
    if (!(await ensureToken("fail a trial"))) return;
    try {
      await post(paths.failTrial(studyId, t.number), { error: "failed from the dashboard" });
      toast(`Trial ${t.number} failed.`, "ok");
      onChange();
    } catch (err) { toast(`Could not fail trial ${t.number}: ${err.message}`, "error"); }
  }

  async function rerunTrial(t) {
    if (!(await ensureToken("re-run a trial"))) return;
    try {
      const r = await post(paths.rerun(studyId), { numbers: [t.number] });
      toast(r.enqueued.length ? `Trial ${t.number}'s configuration is queued as trial ${r.enqueued[0]}.` : `Trial ${t.number} was not re-run.`, r.enqueued.length ? "ok" : "error");
      onChange();
    } catch (err) { toast(`Could not re-run trial ${t.number}: ${err.message}`, "error"); }
  }

  function details(t) {
    const rows = [];
    if (t.error) rows.push(h("div", h("strong", "Error"), h("pre", t.error)));
    rows.push(h("div.small", h("strong", "Parameters "), h("code", JSON.stringify(t.params))));
    if (Object.keys(t.metrics).length) rows.push(h("div.small", h("strong", "Metrics "), h("code", JSON.stringify(t.metrics))));
    if (Object.keys(t.user_attrs).length) rows.push(h("div.small", h("strong", "User attributes "), h("code", JSON.stringify(t.user_attrs))));
    if (Object.keys(t.searcher_info || {}).length) rows.push(h("div.small", h("strong", "Searcher "), h("code", JSON.stringify(t.searcher_info))));
    if (t.n_reports) rows.push(h("div.small", h("strong", "Reports "), `${t.n_reports}, last at step ${t.last_report[0]}: ${fmtNumber(t.last_report[1])}`));
    if (t.budget !== null) rows.push(h("div.small", h("strong", "Budget "), fmtNumber(t.budget), t.parent !== null ? ` (continues trial ${t.parent})` : ""));
    rows.push(h("div.small.muted", `started ${fmtTime(t.datetime_start)}, finished ${fmtTime(t.datetime_complete)}, last heartbeat ${fmtTime(t.heartbeat)}`));
    return h("tr.details", h("td", { colSpan: columns.length + 1 }, rows));
  }

  function render(page) {
    last = page;
    renderChips();
    if (!page.total) {
      replace(body, h("div.empty-state", overview.summary.n_trials ? "No trial matches the filter." : "No trials yet."));
      replace(pager);
      return;
    }
    const rows = [];
    for (const t of page.rows) {
      const tr = h("tr", { dataset: { number: t.number }, style: { cursor: "pointer" }, title: "click for details" }, cells(t));
      tr.addEventListener("click", () => {
        if (expanded.has(t.number)) expanded.delete(t.number); else expanded.add(t.number);
        render(last);
      });
      rows.push(tr);
      if (expanded.has(t.number)) rows.push(details(t));
    }
    const head = header();
    head.append(h("th", ""));
    replace(body, h("table.grid#trials-table", h("thead", head), h("tbody", rows)));
    const end = Math.min(page.offset + page.limit, page.total);
    replace(pager,
      h("span", `${fmtInt(page.offset + 1)}–${fmtInt(end)} of ${fmtInt(page.total)}`),
      h("button", { type: "button", disabled: page.offset === 0, onclick: () => { q.offset = Math.max(0, q.offset - PAGE); refresh(); } }, "‹ Previous"),
      h("button", { type: "button", disabled: end >= page.total, onclick: () => { q.offset += PAGE; refresh(); } }, "Next ›"));
  }

  async function refresh(newOverview) {
    if (newOverview) overview = newOverview;
    const page = await get(paths.trials(studyId), { states: q.states, q: q.text, sort: q.sort, order: q.order, offset: q.offset, limit: PAGE });
    render(page);
  }

  return { card, refresh };
}
