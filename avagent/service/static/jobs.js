// The jobs list: GET /v1/jobs with status/batch filters and cursor pagination (newest first), refreshed in place.

import { $, FINAL, badge, clear, h, num, percent, timeEl } from "./dom.js";
import { getJson } from "./api.js";

function scoresCell(job) {
  const line = (key, short) => {
    const before = job.initial_scores ? job.initial_scores[key] : null;
    const after = job.final_scores ? job.final_scores[key] : null;
    if (before === null && after === null) return null;
    return h("span", { class: "score-pair", title: key }, `${short} ${num(before)}`, after !== null ? ` → ${num(after)}` : "");
  };
  const lines = [line("alignment", "A"), line("sync", "S")].filter(Boolean);
  return h("td", { class: "num" }, lines.length ? lines : h("span", { class: "muted" }, "–"));
}

function progressCell(job) {
  const label = `${percent(job.progress)}${job.stage && !FINAL.has(job.status) ? ` · ${job.stage}` : ""}`;
  return h(
    "td",
    { class: "progress-cell" },
    h("progress", { max: 1, value: job.progress, "aria-label": `progress of ${job.source_name}` }),
    h("span", { class: "small muted" }, label),
  );
}

function statusCell(job) {
  const extra = job.cancel_requested && job.status === "running" ? badge("cancelling", "cancelled") : null;
  const outcome = job.outcome ? h("span", { class: "small muted" }, ` ${job.outcome}`) : null;
  return h("td", {}, badge(job.status), extra, outcome);
}

export class JobsList {
  constructor({ onError }) {
    this.rows = $("#jobs-rows");
    this.form = $("#jobs-filter");
    this.newer = $("#jobs-newer");
    this.older = $("#jobs-older");
    this.error = $("#jobs-error");
    this.updated = $("#jobs-updated");
    this.pageLabel = $("#jobs-page");
    this.onError = onError;
    this.cursors = [null]; // cursor of each page seen so far; the last one is the current page
    this.next = null;
    this.selected = null;
    this.busy = false;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.cursors = [null];
      this.refresh();
    });
    this.newer.addEventListener("click", () => {
      if (this.cursors.length > 1) this.cursors.pop();
      this.refresh();
    });
    this.older.addEventListener("click", () => {
      if (this.next) this.cursors.push(this.next);
      this.refresh();
    });
  }

  query() {
    const data = new FormData(this.form);
    return {
      status: data.get("status"),
      batch: String(data.get("batch") || "").trim().toLowerCase(),
      limit: data.get("limit"),
      cursor: this.cursors[this.cursors.length - 1],
    };
  }

  /** Re-read the current page. A poll is skipped while a request is out; a user's request always goes, and
   * only the latest answer is shown. */
  async refresh({ poll = false } = {}) {
    if (poll && this.busy) return;
    const query = this.query();
    if (query.batch && !/^[0-9a-f]{32}$/.test(query.batch)) {
      this.error.textContent = "A batch id is 32 hex digits.";
      return;
    }
    const generation = (this.generation = (this.generation || 0) + 1);
    this.busy = true;
    try {
      const page = await getJson("v1/jobs", query);
      if (generation !== this.generation) return;
      this.error.textContent = "";
      this.next = page.next_cursor;
      this.render(page.data);
      this.updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (generation !== this.generation) return;
      this.error.textContent = `Cannot list jobs: ${e.message}`;
      this.onError(e);
    } finally {
      if (generation === this.generation) this.busy = false;
    }
  }

  select(jobId) {
    this.selected = jobId;
    for (const row of this.rows.querySelectorAll("tr[data-job-id]")) {
      if (row.dataset.jobId === jobId) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  render(jobs) {
    const page = this.cursors.length;
    this.pageLabel.textContent = `page ${page}`;
    this.newer.disabled = page <= 1;
    this.older.disabled = !this.next;
    const active = document.activeElement;
    const focused = this.rows.contains(active) ? active.closest("tr")?.dataset.jobId : null;
    clear(this.rows);
    if (!jobs.length) {
      this.rows.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No jobs match.")));
      return;
    }
    for (const job of jobs) {
      const row = h(
        "tr",
        { dataset: { jobId: job.id, status: job.status } },
        h("th", { scope: "row", class: "clip" }, h("a", { href: `#/jobs/${job.id}`, title: job.id }, job.source_name)),
        statusCell(job),
        progressCell(job),
        h("td", { class: "num" }, job.iterations ?? "–"),
        scoresCell(job),
        h("td", { class: "small" }, timeEl(job.created_at)),
      );
      if (job.id === this.selected) row.setAttribute("aria-current", "true");
      this.rows.append(row);
      if (job.id === focused) row.querySelector("a").focus(); // a refresh must not steal keyboard focus
    }
  }
}
