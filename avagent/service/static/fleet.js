// The fleet view: GET /v1/stats as cards (queue, jobs by state, executor and workers, throughput), the per-action
// accept rates as bars and the iterations histogram.

import { fill, h, headRow, percent } from "./dom.js";

const STATES = ["queued", "running", "succeeded", "failed", "cancelled"];

function total(counts) {
  return Object.values(counts || {}).reduce((a, b) => a + b, 0);
}

function stat(label, value, detail, name) {
  return h(
    "div",
    { class: "stat", dataset: { stat: name } },
    h("dt", {}, label),
    h("dd", {}, h("span", { class: "stat-value" }, String(value)), detail ? h("span", { class: "stat-detail" }, detail) : null),
  );
}

function executorCard(stats) {
  const ex = stats.executor || {};
  const heartbeats = Object.keys(stats.workers || {});
  const capacity = typeof ex.workers === "number" ? ex.workers : "?";
  const busy = typeof ex.busy === "number" ? ex.busy : heartbeats.length;
  const queues = Object.entries(ex.queues || {}).map(([name, n]) => `${name} ${n}`);
  const detail = [
    `${ex.kind || "executor"}${ex.broker ? ` · ${ex.broker}` : ""}`,
    typeof ex.pending === "number" ? `${ex.pending} pending` : null,
    queues.length ? `queues: ${queues.join(", ")}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return stat("Workers busy", `${busy} / ${capacity}`, detail, "workers");
}

/** Workers with a fresh heartbeat (the jobs they run) and, with a broker, the workers it reports. */
function workersList(stats) {
  const running = Object.entries(stats.workers || {});
  const known = ((stats.executor || {}).worker_names || []).filter((name) => !(stats.workers || {})[name]);
  const items = [
    ...running.map(([name, n]) => h("li", {}, h("code", {}, name), ` · ${n} job(s) running`)),
    ...known.map((name) => h("li", {}, h("code", {}, name), " · idle")),
  ];
  return h(
    "div",
    { class: "workers-list" },
    h("h3", { class: "small-heading" }, "Workers with a live heartbeat"),
    items.length ? h("ul", {}, items) : h("p", { class: "muted small" }, "No worker is running a job."),
  );
}

function throughput(stats) {
  const last5 = total(stats.finished_last_5m);
  const last60 = total(stats.finished_last_1h);
  const ok = (stats.finished_last_1h || {}).succeeded || 0;
  return [
    stat("Finished, 5 min", last5, `${(last5 / 5).toFixed(1)} jobs/min`, "finished-5m"),
    stat("Finished, 1 h", last60, last60 ? `${percent(ok / last60)} succeeded` : "none yet", "finished-1h"),
  ];
}

function actionsTable(actions) {
  if (!actions || !actions.length) return h("p", { class: "muted small" }, "No candidate has been decided yet.");
  return h(
    "table",
    { class: "mini-table actions-table" },
    h("caption", {}, "Action acceptance (candidates containing the action)"),
    headRow("Action", "Accepted", "Rate"),
    h(
      "tbody",
      {},
      actions.map((a) => {
        const rate = typeof a.accept_rate === "number" ? a.accept_rate : 0;
        const meter = h("meter", { min: 0, max: 1, value: rate, "aria-label": `${a.action} accept rate` });
        return h(
          "tr",
          { dataset: { action: a.action } },
          h("th", { scope: "row" }, h("code", {}, a.action)),
          h("td", {}, `${a.accepted} / ${a.accepted + a.rejected}`),
          h("td", { class: "rate" }, meter, " ", percent(a.accept_rate)),
        );
      }),
    ),
  );
}

function iterationsChart(histogram) {
  const entries = Object.entries(histogram || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
  if (!entries.length) return h("p", { class: "muted small" }, "No finished job yet.");
  const peak = Math.max(...entries.map(([, n]) => n));
  return h(
    "figure",
    { class: "histogram" },
    h("figcaption", {}, "Finished jobs by plans tried"),
    h(
      "ol",
      { class: "bars" },
      entries.map(([k, n]) => {
        const bar = h("span", { class: "bar" });
        bar.style.height = `${Math.max(4, (56 * n) / peak)}px`;
        const count = h("span", { class: "bar-n" }, String(n));
        return h("li", { title: `${n} job(s) tried ${k} plan(s)` }, count, bar, h("span", { class: "bar-k" }, k));
      }),
    ),
  );
}

export function renderFleet(root, stats) {
  const jobs = stats.jobs || {};
  const byState = STATES.map((st) => `${jobs[st] || 0} ${st}`).join(" · ");
  fill(
    root,
    h(
      "dl",
      { class: "stats" },
      stat("Queue depth", stats.queue_depth, "queued jobs", "queue-depth"),
      stat("Running", jobs.running || 0, byState, "running"),
      executorCard(stats),
      ...throughput(stats),
    ),
    h(
      "div",
      { class: "fleet-charts" },
      actionsTable(stats.actions),
      iterationsChart(stats.iterations),
      workersList(stats),
    ),
  );
}
