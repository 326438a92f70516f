// Live pages: each page polls a cheap endpoint (a version or a cursor) and redraws only
// when it moved. Polling slows down while the tab is hidden and stops on navigation.

const indicator = () => document.getElementById("live");

/** Show (or with no message, hide) the banner under the top bar. */
export function setBanner(message) {
  const el = document.getElementById("banner");
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
}

export function setLive(state, title) {
  const el = indicator();
  if (!el) return;
  el.classList.toggle("on", state === "on");
  el.classList.toggle("error", state === "error");
  el.textContent = state === "error" ? "offline" : "live";
  if (title) el.title = title;
}

/**
 * Call ``tick()`` now and then every ``interval`` ms (5x slower while the tab is hidden)
 * until the returned stop function is called. Errors are shown on the live indicator and
 * passed to ``onError``; polling continues.
 */
export function poll(tick, interval, onError) {
  let stopped = false;
  let timer = null;
  async function run() {
    if (stopped) return;
    try {
      await tick();
      if (!stopped) {
        setLive("on", `refreshed ${new Date().toLocaleTimeString()}`);
        setBanner("");
      }
    } catch (err) {
      if (!stopped) {
        setLive("error", String(err.message || err));
        setBanner(`Could not refresh this page: ${err.message || err}. Retrying…`);
        if (onError) onError(err);
      }
    }
    if (!stopped) timer = setTimeout(run, document.hidden ? interval * 5 : interval);
  }
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    setLive("off");
    setBanner("");
  };
}
