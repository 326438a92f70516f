// One comparison: the verdict, the statistics table, best-so-far curves (median and
// interquartile band over seeds) by trial and by wall time, normalized regret (log axis),
// average rank over the budget, final-value box plots, and a searcher x seed grid of the
// member studies. Live while its job runs: polls a version and redraws when it moved.

import { ApiError, get, paths } from "../api.js";
import { badge, fmtDuration, fmtInt, fmtNumber, fmtP, fmtTime, h, replace } from "../dom.js";
import { poll } from "../live.js";
import { band, baseLayout, color, draw, drawEmpty } from "../plots.js";

function card(key, title, caption = "", wide = false) {
  const el = h("div.chart", { dataset: { chart: key } }, h("div.chart-empty", "Loading…"));
  const note = h("div.caption", caption);
  return { card: h(`div.card${wide ? ".wide" : ""}`, { dataset: { card: key } }, h("h2", title), el, note), el, note };
}

export function mount(root, [idText]) {
  const id = Number(idText);
  let version = null;
  let parts = null;
  let stopped = false;
  root.append(h("p.muted", "Loading the comparison…"));

  function build() {
    parts = {
      head: h("div"),
      verdict: h("div"),
      table: h("div.card#stats"),
      byTrial: card("by-trial", "Best so far by trial", "Median over seeds (line) and interquartile band (shaded)."),
      byTime: card("by-time", "Best so far by wall time", "Time = the searcher's time to propose plus the trials' run time, cumulated per study."),
      regret: card("regret", "Normalized regret (log scale)"),
      rank: card("rank", "Average rank over the budget", "At each trial, searchers ranked by best so far on each seed (1 = best), averaged over seeds."),
      finals: card("finals", "Final best value per seed", "One point per seed; boxes show the median and quartiles.", true),
      grid: h("div.card#members"),
    };
    replace(root, parts.head, parts.verdict, parts.table,
      h("div.charts", parts.byTrial.card, parts.byTime.card, parts.regret.card, parts.rank.card, parts.finals.card),
      h("div", { style: { height: "16px" } }), parts.grid);
  }

  async function refresh() {
    let data;
    try {
      data = await get(paths.comparison(id), { known: version });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        stop();
        replace(root, h("div.empty-state", h("h2", "No such comparison"), h("a", { href: "#/comparisons" }, "Back to the comparisons")));
        return;
      }
      throw err;
    }
    if (stopped || data.unchanged) return;
    version = data.version;
    if (!parts) build();
    await render(data);
  }

  async function render(data) {
    const c = data.comparison;
    const s = data.summary;
    const p = c.progress;
    const pct = p.expected ? Math.min(100, (100 * p.finished) / p.expected) : 0;
    const job = c.job ? c.job.state : (p.finished >= p.expected ? "done" : "not running");
    replace(parts.head,
      h("div.page-head", h("div",
        h("div.crumbs", h("a", { href: "#/comparisons" }, "Comparisons"), " / ", c.name),
        h("div.row", h("h1#comparison-name", c.name), badge(job, job === "running" ? "running" : job === "failed" ? "failed" : job === "done" ? "done" : "idle")))),
      h("div.card", h("div.facts",
        fact("Problem", h("code", c.problem)),
        fact("Direction", c.direction),
        fact("Searchers", c.searchers.join(", ")),
        fact("Seeds", fmtInt(c.seeds.length)),
        fact("Budget", `${fmtInt(c.n_trials)} trials per study`),
        fact("Optimum", c.optimum === null ? "unknown" : fmtNumber(c.optimum)),
        fact("Progress", h("div", h("div.progress", h("span", { style: { width: `${pct}%` } })),
          h("span.small.muted#progress-text", `${fmtInt(p.finished)} / ${fmtInt(p.expected)} trials${p.running ? `, ${p.running} running` : ""}`))),
        fact("Created", fmtTime(c.created_at))),
      c.job && c.job.error ? h("pre", `The job failed: ${c.job.error}`) : null));
    const v = s.extras.verdict;
    replace(parts.verdict, h(`div.verdict.card${v.tied.length ? ".tie" : ""}#verdict`, { role: "note" },
      h("strong", v.tied.length ? "Tie. " : v.best ? "Winner: " : ""), v.best && !v.tied.length ? h("strong", `${v.best}. `) : "",
      v.text, p.finished < p.expected ? h("span.muted", " (still running: the numbers move as trials finish)") : ""));
    renderTable(s);
    renderGrid(data.members, c.seeds, s.labels, c.direction);
    await Promise.all([drawCurves(s), drawRegret(s), drawRank(s), drawFinals(s)]);
  }

  function renderTable(s) {
    const v = s.extras.verdict;
    const cols = ["Searcher", "Seeds", "Trials", "Failed", "Norm. regret (mean)", "Median final", "IQR",
      "IQM [95% CI]", "Avg rank", "Wilcoxon p vs best", "Time per ask"];
    const rows = s.table.map((r) => {
      const winner = r.searcher === v.best;
      const tie = v.tied.includes(r.searcher);
      return h(`tr${winner ? ".winner" : ""}`, { dataset: { searcher: r.searcher } },
        h("td", h("strong", r.searcher), r.searcher_name !== r.searcher ? h("span.muted.small", ` (${r.searcher_name})`) : "",
          winner ? [" ", badge(v.tied.length ? "tie" : "winner", v.tied.length ? "tie" : "winner")] : tie ? [" ", badge("tie", "tie")] : ""),
        h("td.num", fmtInt(r.n_seeds)), h("td.num", fmtInt(r.n_trials)), h("td.num", fmtInt(r.n_failed)),
        h("td.num", fmtNumber(r.normalized_regret, 3)),
        h("td.num", fmtNumber(r.final_median)),
        h("td.num.nowrap", `${fmtNumber(r.final_q25)} – ${fmtNumber(r.final_q75)}`),
        h("td.num.nowrap", `${fmtNumber(r.final_iqm)} [${fmtNumber(r.final_iqm_ci_low)}, ${fmtNumber(r.final_iqm_ci_high)}]`),
        h("td.num", fmtNumber(r.average_rank, 3)),
        h("td.num", winner ? "best" : fmtP(r.wilcoxon_p)),
        h("td.num.nowrap", fmtDuration(r.searcher_time_mean)));
    });
    const basis = s.regret_basis === "optimum"
      ? "Normalized regret: 0 at the problem's optimum, 1 at its reference (random-configuration median)."
      : "No known optimum: normalized regret uses the best value seen in this comparison (0) and the median first value (1).";
    replace(parts.table, h("h2", "Statistics"), h("div.table-wrap", h("table.grid#stats-table",
      h("thead", h("tr", cols.map((t) => h("th", t)))), h("tbody", rows))),
      h("div.caption", `Final values after ${fmtInt(s.record.n_trials)} trials, over ${fmtInt(s.seeds.length)} paired seeds. ${basis} `
        + "IQM: mean of the middle half, with a seeded bootstrap interval. Wilcoxon: paired signed-rank test against the best searcher "
        + `(p < ${v.alpha} means a real difference). Sorted by normalized regret.`));
  }

  function renderGrid(members, seeds, labels, direction) {
    const cell = new Map(members.map((m) => [`${m.label}\u0000${m.seed}`, m]));
    const sign = direction === "minimize" ? 1 : -1;
    const head = h("tr", h("th", "Searcher \\ seed"), seeds.map((sd) => h("th", String(sd))));
    const rows = labels.map((label) => {
      const mine = seeds.map((sd) => cell.get(`${label}\u0000${sd}`)).filter(Boolean);
      const best = Math.min(...mine.filter((m) => m.best_value !== null).map((m) => sign * m.best_value));
      return h("tr", h("th", label), seeds.map((sd) => {
        const m = cell.get(`${label}\u0000${sd}`);
        if (!m) return h("td.muted", "–");
        return h(`td${m.best_value !== null && sign * m.best_value === best ? ".best" : ""}`, { dataset: { studyId: m.study_id } },
          h("a", { href: `#/studies/${m.study_id}`, title: `study ${m.study_name}` }, fmtNumber(m.best_value)),
          h("span.small.muted", `${fmtInt(m.finished)} trials${m.running ? `, ${m.running} running` : ""}${m.failed ? `, ${m.failed} failed` : ""}`));
      }));
    });
    replace(parts.grid, h("h2", "Per-seed results"),
      h("p.caption", "Best value of each member study (bold: the searcher's best seed). Click a cell to open the study."),
      h("div.table-wrap", h("table.grid.seedgrid#seed-grid", h("thead", head), h("tbody", rows))));
  }

  function drawCurves(s) {
    const cv = s.curves;
    if (!cv.searchers.length) {
      return Promise.all([drawEmpty(parts.byTrial.el, "No trial yet."), drawEmpty(parts.byTime.el, "No trial yet.")]);
    }
    const byTrial = [];
    const byTime = [];
    cv.searchers.forEach((c, i) => {
      byTrial.push(...band(cv.trials, c.median_by_trial, c.q25_by_trial, c.q75_by_trial, c.label, color(i)));
      byTime.push(...band(cv.time_grid, c.median_by_time, c.q25_by_time, c.q75_by_time, c.label, color(i)));
    });
    const all = cv.searchers.flatMap((c) => [...c.q25_by_trial, ...c.q75_by_trial]).filter((v) => v !== null);
    const positive = all.length && Math.min(...all) > 0;
    const log = positive && Math.max(...all) / Math.min(...all) > 30; // early values would squash the rest
    const y = { title: { text: `best value (${s.record.direction}${log ? ", log scale" : ""})` }, ...(log ? { type: "log", dtick: 1, exponentformat: "power" } : {}) };
    return Promise.all([
      draw(parts.byTrial.el, byTrial, baseLayout({ xaxis: { title: { text: "trial" } }, yaxis: y }), cv.searchers.length),
      cv.time_grid.length
        ? draw(parts.byTime.el, byTime, baseLayout({ xaxis: { title: { text: "seconds" } }, yaxis: y }), cv.searchers.length)
        : drawEmpty(parts.byTime.el, "No finished trial yet."),
    ]);
  }

  function drawRegret(s) {
    const r = s.extras.regret_by_trial;
    const labels = Object.keys(r);
    if (s.regret_basis !== "optimum" || !labels.length) {
      parts.regret.note.textContent = "";
      return drawEmpty(parts.regret.el, "The problem's optimum is not known, so regret is not drawn; see the table's regret against the best value seen.");
    }
    const traces = [];
    labels.forEach((label, i) => traces.push(...band(s.curves.trials, r[label].median, r[label].q25, r[label].q75, label, color(s.labels.indexOf(label) >= 0 ? s.labels.indexOf(label) : i))));
    parts.regret.note.textContent = `(value − optimum) / (reference − optimum), median and IQR over seeds; 0 (the optimum reached) is drawn at ${s.extras.regret_floor}.`;
    return draw(parts.regret.el, traces, baseLayout({
      xaxis: { title: { text: "trial" } }, yaxis: { title: { text: "normalized regret" }, type: "log", dtick: 1, exponentformat: "power" },
    }), labels.length);
  }

  function drawRank(s) {
    const r = s.extras.rank_by_trial;
    const labels = Object.keys(r);
    if (!labels.length) return drawEmpty(parts.rank.el, "No seed is common to every searcher yet.");
    const avg = Object.fromEntries(s.table.map((row) => [row.searcher, row.average_rank]));
    const traces = labels.map((label) => ({ type: "scatter", mode: "lines", name: `${label} (avg ${fmtNumber(avg[label], 3)})`,
      x: s.curves.trials, y: r[label], line: { color: color(s.labels.indexOf(label)), width: 2 } }));
    return draw(parts.rank.el, traces, baseLayout({
      xaxis: { title: { text: "trial" } },
      yaxis: { title: { text: "rank (1 = best)" }, range: [labels.length + 0.3, 0.7], dtick: 1 },
    }), labels.length);
  }

  function drawFinals(s) {
    const f = s.extras.finals;
    const labels = s.labels.filter((l) => f[l] && f[l].some((r) => r.value !== null));
    if (!labels.length) return drawEmpty(parts.finals.el, "No finished trial yet.");
    const traces = labels.map((label) => ({
      type: "box", name: label, y: f[label].map((r) => r.value), text: f[label].map((r) => `seed ${r.seed}`),
      boxpoints: "all", jitter: 0.4, pointpos: 0, marker: { color: color(s.labels.indexOf(label)), size: 6 },
      line: { width: 1.5 }, hovertemplate: "%{text}: %{y}<extra></extra>",
    }));
    return draw(parts.finals.el, traces, baseLayout({
      showlegend: false, yaxis: { title: { text: `final best value (${s.record.direction})` } },
    }), labels.length);
  }

  const stopPolling = poll(refresh, 2000);
  function stop() {
    stopped = true;
    stopPolling();
  }
  return stop;
}

function fact(label, value) {
  return h("div.fact", h("span.k", label), h("span.v", value));
}
