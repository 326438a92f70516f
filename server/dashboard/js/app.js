// The dashboard's shell: hash routes, the token dialog, the navigation.
//   #/studies               the studies list
//   #/studies/<id>          one study
//   #/comparisons           comparisons
//   #/comparisons/<id>      one comparison
//   #/new-comparison        the new-comparison form

import { setupAuth } from "./auth.js";
import { h, replace } from "./dom.js";
import { markPageStart, purgeAll } from "./plots.js";
import * as comparison from "./pages/comparison.js";
import * as comparisons from "./pages/comparisons.js";
import * as newComparison from "./pages/new_comparison.js";
import * as studies from "./pages/studies.js";
import * as study from "./pages/study.js";

const ROUTES = [
  [/^#?\/?$/, studies, "studies"],
  [/^#\/studies\/?$/, studies, "studies"],
  [/^#\/studies\/(\d+)$/, study, "studies"],
  [/^#\/comparisons\/?$/, comparisons, "comparisons"],
  [/^#\/comparisons\/(\d+)$/, comparison, "comparisons"],
  [/^#\/new-comparison$/, newComparison, "new-comparison"],
];

const root = document.getElementById("app");
let unmount = null;

async function route() {
  if (unmount) {
    try { unmount(); } catch { /* a page that failed to mount */ }
    unmount = null;
  }
  purgeAll(root);
  markPageStart();
  const hash = window.location.hash || "#/studies";
  for (const [pattern, page, nav] of ROUTES) {
    const m = pattern.exec(hash.split("?")[0]);
    if (!m) continue;
    for (const a of document.querySelectorAll("[data-nav]")) {
      a.classList.toggle("active", a.dataset.nav === nav);
    }
    replace(root);
    window.scrollTo(0, 0);
    unmount = page.mount(root, m.slice(1)) || null;
    return;
  }
  replace(root, h("div.empty-state", h("h2", "Page not found"), h("a", { href: "#/studies" }, "Back to the studies")));
}

window.addEventListener("hashchange", route);
window.addEventListener("hpo:token-changed", route);
setupAuth();
route();
