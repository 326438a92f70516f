// One study: header and controls, charts (history, importance, parallel coordinates,
// slice, contour, learning curves, PBT lineage, portfolio members), the trial table and
// the study's note. Polls the overview's cursor every 2 s and redraws what changed.

import { ApiError, del, download, get, paths, post, put } from "../api.js";
import { ensureToken } from "../auth.js";
import { badge, confirmDialog, countBar, fmtAgo, fmtInt, fmtNumber, fmtTime, h, replace, toast } from "../dom.js";
import { poll } from "../live.js";
import { drawEmpty } from "../plots.js";
import { renderMarkdown } from "../markdown.js";
import * as charts from "./study_charts.js";
import { trialTable } from "./study_trials.js";

const IMPORTANCE_EVERY_MS = 15_000;

function chartCard(key, title, { wide = false, tall = false, controls = null, caption = "" } = {}) {
  const el = h(`div.chart${tall ? ".tall" : ""}`, { dataset: { chart: key } }, h("div.chart-empty", "Loading…"));
  const note = h("div.caption", { dataset: { caption: key } }, caption);
  const card = h(`div.card${wide ? ".wide" : ""}`, { dataset: { card: key } },
    h("div.row", h("h2", title), h("span.spacer"), controls), el, note);
  return { card, el, note };
}

function select(label, options, value, onchange) {
  const el = h("select", { "aria-label": label, onchange: () => onchange(el.value) },
    options.map((o) => h("option", { value: o, selected: o === value }, o)));
  return el;
}

export function mount(root, [idText]) {
  const id = Number(idText);
  let overview = null;
  let cursor = null;
  let stopped = false;
  let importanceAt = 0;
  let parts = null;
  let headerKey = null;
  const state = { slice: null, cx: null, cy: null };

  root.append(h("p.muted", "Loading the study…"));

  async function load() {
    let fresh;
    try {
      fresh = await get(paths.study(id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        stop();
        replace(root, h("div.empty-state", h("h2", "No such study"),
          h("p", `Study ${id} does not exist (it may have been deleted).`),
          h("a", { href: "#/studies" }, "Back to the studies")));
        return;
      }
      throw err;
    }
    if (stopped) return;
    const first = overview === null;
    overview = fresh;
    if (first) build();
    // redraw the header when it changed (and every half minute, for "x min ago"), not on
    // every poll: a button under the pointer must stay the same element
    const key = JSON.stringify([fresh.summary, fresh.record, Math.floor(Date.now() / 30_000)]);
    if (key !== headerKey) {
      headerKey = key;
      renderHeader();
    }
    if (fresh.cursor !== cursor) {
      cursor = fresh.cursor;
      await redraw(first);
    }
  }

  function build() {
    const f = overview.features;
    const names = overview.params.map((p) => p.name);
    state.slice = names[0] || null;
    state.cx = names[0] || null;
    state.cy = names[1] || names[0] || null;
    parts = {
      head: h("div"),
      controls: h("div.row"),
      history: chartCard("history", "Optimization history", { wide: true }),
      importance: chartCard("importance", "Parameter importance"),
      parallel: chartCard("parallel", "Parallel coordinates"),
      slice: chartCard("slice", "Slice", { controls: names.length ? select("slice parameter", names, state.slice, (v) => { state.slice = v; drawSlice(); }) : null }),
      contour: chartCard("contour", "Contour", { controls: names.length > 1 ? h("span.row",
        select("contour x", names, state.cx, (v) => { state.cx = v; drawContour(); }), "×",
        select("contour y", names, state.cy, (v) => { state.cy = v; drawContour(); })) : null }),
      curves: f.intermediate ? chartCard("curves", "Learning curves (intermediate values)", { wide: true }) : null,
      lineage: f.pbt ? chartCard("lineage", "PBT lineage: who exploited whom", { wide: true, tall: true }) : null,
      portfolio: f.portfolio ? chartCard("portfolio", "Portfolio: which member proposed each trial", { wide: true }) : null,
      table: trialTable(id, overview, () => refreshNow()),
      note: noteCard(),
    };
    const grid = h("div.charts",
      parts.history.card, parts.importance.card, parts.parallel.card, parts.slice.card, parts.contour.card,
      parts.curves?.card, parts.lineage?.card, parts.portfolio?.card);
    replace(root, parts.head, parts.controls, grid, h("div", { style: { height: "16px" } }), parts.table.card, parts.note.card);
  }

  function renderHeader() {
    const r = overview.record;
    const s = overview.summary;
    const c = s.comparison;
    replace(parts.head, h("div.page-head",
      h("div",
        h("div.crumbs", h("a", { href: "#/studies" }, "Studies"), " / ",
          c ? [h("a", { href: `#/comparisons/${c.comparison_id}` }, c.comparison), ` · ${c.label} · seed ${c.seed}`] : r.name),
        h("div.row", h("h1#study-name", r.name), badge(s.state))),
    ), h("div.card",
      h("div.facts",
        fact("Searcher", h("code", r.searcher)),
        fact("Direction", r.direction),
        fact("Best value", s.best_value === null ? "–" : [fmtNumber(s.best_value), h("span.muted.small", ` trial ${s.best_number}`)]),
        fact("Trials", [fmtInt(s.n_trials), countBar(s.counts)]),
        fact("By state", ["COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAILED"].filter((k) => s.counts[k]).map((k) => `${fmtInt(s.counts[k])} ${k.toLowerCase()}`).join(", ") || "–"),
        fact("Last activity", h("span", { title: fmtTime(s.last_activity) }, fmtAgo(s.last_activity))),
        fact("Created", fmtTime(r.created_at)),
        r.seed !== null ? fact("Seed", String(r.seed)) : null,
        r.budget ? fact("Budget", `${r.budget.name} ${r.budget.min}…${r.budget.max}`) : null,
        r.stopper ? fact("Stopper", r.stopper) : null,
        r.owner ? fact("Driven by", r.owner) : null,
        s.stopped_at ? fact("Stopped", fmtTime(s.stopped_at)) : null,
      )));
    renderControls();
  }

  function renderControls() {
    const s = overview.summary;
    const failed = s.counts.FAILED || 0;
    replace(parts.controls,
      s.stopped_at
        ? h("button.primary", { type: "button", dataset: { action: "resume" }, onclick: () => setStopped(false) }, "Resume study")
        : h("button", { type: "button", dataset: { action: "stop" }, onclick: () => setStopped(true),
          title: "no new trial starts; running trials may finish" }, "Stop study"),
      h("button", { type: "button", dataset: { action: "rerun-all" }, disabled: !failed, onclick: rerunAll,
        title: "enqueue the configurations of the failed trials" }, `Re-run failed (${fmtInt(failed)})`),
      h("button", { type: "button", onclick: () => download(paths.exportStudy(id, "csv"), `${overview.record.name}.csv`) }, "Download CSV"),
      h("button", { type: "button", onclick: () => download(paths.exportStudy(id, "json"), `${overview.record.name}.json`) }, "Download JSON"),
      h("span.spacer"),
      h("button.danger", { type: "button", dataset: { action: "delete" }, onclick: deleteStudy }, "Delete study…"));
    parts.controls.style.marginBottom = "16px";
  }

  async function setStopped(value) {
    if (!(await ensureToken(value ? "stop the study" : "resume the study"))) return;
    try {
      await post(paths.stop(id), { stopped: value });
      toast(value ? "Study stopped: no new trial will start." : "Study resumed.", "ok");
      await refreshNow();
    } catch (err) { toast(`Could not ${value ? "stop" : "resume"} the study: ${err.message}`, "error"); }
  }

  async function rerunAll() {
    if (!(await ensureToken("re-run failed trials"))) return;
    try {
      const r = await post(paths.rerun(id), {});
      toast(`${r.enqueued.length} configuration${r.enqueued.length === 1 ? "" : "s"} queued to run again${r.skipped.length ? ` (${r.skipped.length} skipped)` : ""}.`, "ok");
      await refreshNow();
    } catch (err) { toast(`Could not re-run the failed trials: ${err.message}`, "error"); }
  }

  async function deleteStudy() {
    const name = overview.record.name;
    const ok = await confirmDialog({
      title: `Delete study ${name}?`,
      body: `This deletes the study and its ${fmtInt(overview.summary.n_trials)} trials for good. Checkpoints stay in their artifact directory.`,
      ok: "Delete",
      typed: name,
    });
    if (!ok || !(await ensureToken("delete the study"))) return;
    try {
      stop();
      await del(paths.deleteStudy(id));
      toast(`Study ${name} deleted.`, "ok");
      window.location.hash = "#/studies";
    } catch (err) {
      toast(`Could not delete the study: ${err.message}`, "error");
      stopPolling = poll(load, 2000);
      stopped = false;
    }
  }

  async function redraw(first) {
    // the cheap charts first (one request), then the table, slice and contour, and the
    // importance (a model fit on the server) last, so that the first chart comes fast
    const plots = await get(paths.plots(id));
    if (stopped) return;
    await charts.history(parts.history.el, plots.history);
    parts.history.note.textContent = plots.history.total
      ? `${charts.sampledNote(plots.history, "COMPLETE trials")}; the red line is the best value so far.` : "";
    const jobs = [
      charts.parallel(parts.parallel.el, plots.parallel, overview.params).then(() => {
        parts.parallel.note.textContent = plots.parallel.total
          ? `${charts.sampledNote(plots.parallel, "COMPLETE trials")}; darker is better; drag along an axis to keep a band, double-click to clear.` : "";
      }),
    ];
    if (parts.curves && plots.curves) {
      jobs.push(charts.curves(parts.curves.el, plots.curves).then(() => { parts.curves.note.textContent = charts.curvesNote(plots.curves); }));
    }
    if (parts.lineage && plots.lineage) {
      const l = plots.lineage;
      jobs.push(charts.lineage(parts.lineage.el, l).then(() => {
        parts.lineage.note.textContent = `${fmtInt(l.members)} members, ${fmtInt(l.exploits)} exploits (dotted red: a member continued from a better member's checkpoint); ${charts.sampledNote(l, "segments")}.`;
      }));
    }
    if (parts.portfolio && plots.portfolio) {
      const p = plots.portfolio;
      jobs.push(charts.portfolio(parts.portfolio.el, p).then(() => {
        parts.portfolio.note.textContent = p.members.map((m) => `${m.name}: ${fmtInt(m.n)} trials (${Math.round(100 * m.share)}%), best ${fmtNumber(m.best)}`).join(" · ");
      }));
    }
    await Promise.all([...jobs, parts.table.refresh(overview), drawSlice(), drawContour()]);
    if (first || Date.now() - importanceAt > IMPORTANCE_EVERY_MS) await drawImportance();
  }

  async function drawImportance() {
    importanceAt = Date.now();
    const d = await get(paths.importance(id));
    if (stopped) return;
    await charts.importance(parts.importance.el, d);
    parts.importance.note.textContent = charts.importanceNote(d);
  }

  async function drawSlice() {
    if (!state.slice) return drawEmpty(parts.slice.el, "The study has no parameters yet.");
    const d = await get(paths.slice(id), { param: state.slice });
    if (stopped) return;
    await charts.slice(parts.slice.el, d, overview.record.direction);
    parts.slice.note.textContent = d.total ? charts.sampledNote(d, "COMPLETE trials") : "";
  }

  async function drawContour() {
    if (!state.cx || !state.cy || state.cx === state.cy) {
      return drawEmpty(parts.contour.el, overview.params.length < 2 ? "A contour needs two parameters." : "Choose two different parameters.");
    }
    const d = await get(paths.contour(id), { x: state.cx, y: state.cy });
    if (stopped) return;
    await charts.contour(parts.contour.el, d, overview.record.direction);
    parts.contour.note.textContent = d.total > 1
      ? `Mean value of the trials in each cell of a 24 × 24 grid (white dots: the trials); ${charts.sampledNote(d, "COMPLETE trials")}.` : "";
  }

  function noteCard() {
    const view = h("div.note#note-view");
    const editor = h("textarea#note-editor", { hidden: true, placeholder: "Markdown: findings, decisions, links…" });
    const status = h("span.muted.small");
    const edit = h("button", { type: "button", dataset: { action: "edit-note" } }, "Edit");
    const save = h("button.primary", { type: "button", hidden: true, dataset: { action: "save-note" } }, "Save");
    const cancel = h("button", { type: "button", hidden: true }, "Cancel");
    const card = h("div.card#note", h("div.row", h("h2", "Note"), h("span.spacer"), status, edit, cancel, save), view, editor);
    let editing = false;
    const show = () => {
      const n = overview.note;
      view.innerHTML = n.body ? renderMarkdown(n.body) : "";
      if (!n.body) view.append(h("p.muted", "No note yet. Use it for findings, decisions and links (Markdown)."));
      status.textContent = n.version ? `version ${n.version}, saved ${fmtAgo(n.updated_at)}` : "";
    };
    const setEditing = (on) => {
      editing = on;
      editor.hidden = !on; save.hidden = !on; cancel.hidden = !on; edit.hidden = on;
      if (on) { editor.value = overview.note.body; editor.focus(); }
      show();
    };
    edit.addEventListener("click", () => setEditing(true));
    cancel.addEventListener("click", () => setEditing(false));
    save.addEventListener("click", async () => {
      if (!(await ensureToken("save the note"))) return;
      try {
        overview.note = await put(paths.note(id), { body: editor.value, expected_version: overview.note.version });
        setEditing(false);
        toast("Note saved.", "ok");
      } catch (err) {
        toast(err.code === "study_note_conflict"
          ? "Someone else saved the note meanwhile: copy your text, cancel, and edit again."
          : `Could not save the note: ${err.message}`, "error");
      }
    });
    return { card, refresh: () => { if (!editing) show(); } };
  }

  let stopPolling = poll(async () => {
    await load();
    if (parts) parts.note.refresh();
  }, 2000);

  async function refreshNow() {
    cursor = null;
    headerKey = null;
    await load();
  }

  function stop() {
    stopped = true;
    stopPolling();
  }
  return stop;
}

function fact(label, value) {
  return h("div.fact", h("span.k", label), h("span.v", value));
}
