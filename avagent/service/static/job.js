// The job view: a job's detail (JobDetail, as GET /v1/jobs/{id}) rendered as a header, score plots, key
// diagnostics, the loop's timeline, media (audio players and spectrograms) and captions; kept live by the job's
// event stream (GET /v1/jobs/{id}/events). The detail comes from /dashboard/jobs/{id} with the event seq it
// reflects; the stream resumes after that seq, so history is never replayed over a newer view.

import { ApiError, api, apiUrl, getJson } from "./api.js";
import { FINAL, badge, clear, fill, h, headRow, num, paramText, percent, seconds, signed, timeEl } from "./dom.js";
import { scorePlot } from "./plot.js";

const REFRESH_MS = 1500; // while events arrive, re-read the job (progress, stage) at most this often
const DEFAULT_THRESHOLD = 0.85;

function emptyIteration(index) {
  return { index, plan: null, actions: [], scores: null, accepted: null, seconds: null };
}

/** The scores a candidate is compared with: the best accepted one before it, else the original's. */
function references(job) {
  const out = new Map();
  let best = job.initial;
  for (const it of job.timeline) {
    out.set(it.index, best);
    if (it.accepted && it.scores) best = it.scores;
  }
  return out;
}

/** The candidate that is (or will be) kept: the report's best iteration, else the last accepted so far. */
function bestIteration(job) {
  if (typeof job.best_iteration === "number") {
    return job.best_iteration === 0 ? null : job.timeline.find((it) => it.index === job.best_iteration) || null;
  }
  return [...job.timeline].reverse().find((it) => it.accepted && it.scores) || null;
}

function details(scores) {
  return (scores && scores.details) || {};
}

function verdictOf(it) {
  if (it.accepted === true) return "accepted";
  if (it.accepted === false) return "rejected";
  return it.scores ? "deciding" : it.plan ? "applying" : "planning";
}

function scoreLine(name, value, ref, threshold) {
  const delta = ref && typeof ref[name] === "number" && typeof value === "number" ? value - ref[name] : null;
  const meets = typeof value === "number" && value >= threshold;
  return h(
    "span",
    { class: `score ${meets ? "meets" : "below"}`, dataset: { score: name } },
    `${name} `,
    h("strong", {}, num(value)),
    delta !== null ? h("span", { class: "delta" }, ` (${signed(delta)})`) : null,
    meets ? h("span", { class: "visually-hidden" }, " meets the threshold") : null,
  );
}

function scoresLine(scores, ref, threshold) {
  return h(
    "p",
    { class: "scores" },
    scoreLine("alignment", scores.alignment, ref, threshold),
    " ",
    scoreLine("sync", scores.sync, ref, threshold),
  );
}

function actionList(it) {
  const planned = (it.plan && it.plan.actions) || it.actions.map((name) => ({ name, params: {} }));
  if (!planned.length) return h("p", { class: "muted small" }, "No edit planned.");
  return h(
    "ul",
    { class: "action-list" },
    planned.map((a) => h("li", {}, h("code", { class: "action-name" }, a.name), " ", h("span", { class: "params" }, paramText(a.params)))),
  );
}

function iterationItem(it, ref, threshold) {
  const verdict = verdictOf(it);
  const plan = it.plan || {};
  return h(
    "li",
    { class: `iteration iteration-${verdict}`, dataset: { iteration: it.index, verdict } },
    h(
      "div",
      { class: "iteration-head" },
      h("span", { class: "iteration-no" }, `Iteration ${it.index}`),
      badge(verdict),
      plan.planner ? h("span", { class: "small muted" }, `planner: ${plan.planner}`) : null,
      it.seconds ? h("span", { class: "small muted" }, seconds(it.seconds)) : null,
    ),
    actionList(it),
    it.scores ? scoresLine(it.scores, ref, threshold) : h("p", { class: "scores muted small" }, "not scored yet"),
    plan.reasoning ? h("p", { class: "reasoning" }, h("span", { class: "label" }, "Reasoning: "), plan.reasoning) : null,
    plan.note ? h("p", { class: "note" }, h("span", { class: "label" }, "Planner note: "), plan.note) : null,
  );
}

function originalItem(job, threshold) {
  return h(
    "li",
    { class: "iteration iteration-original", dataset: { iteration: 0, verdict: "original" } },
    h("div", { class: "iteration-head" }, h("span", { class: "iteration-no" }, "Original"), badge("input", "original")),
    scoresLine(job.initial, null, threshold),
  );
}

function captionBlock(title, caption, chips) {
  if (!caption) return null;
  const tags = (chips || []).map(([name, p]) => h("li", {}, `${name} ${percent(p)}`));
  return h(
    "div",
    { class: "caption" },
    h("h4", {}, title),
    h("p", {}, caption.caption || "–"),
    tags.length ? h("ul", { class: "chips", "aria-label": `${title} tags` }, tags) : null,
  );
}

function card(name, title, body) {
  return h("section", { class: "card", "aria-labelledby": `${name}-title` }, h("h3", { id: `${name}-title` }, title), body);
}

export class JobView {
  constructor({ root, canCancel, onChange, onError }) {
    this.root = root;
    this.canCancel = canCancel;
    this.onChange = onChange; // (job) => void: the list refreshes its row
    this.onError = onError;
    this.id = null;
    this.job = null;
    this.stream = null;
    this.liveEvents = 0;
    this.lastSeq = 0; // events up to this seq are in the view (from the detail or from the stream)
    this.refreshTimer = null;
    this.renderQueued = false;
    this.mediaFor = null;
  }

  async open(id) {
    if (id === this.id) return;
    this.close();
    this.id = id;
    this.build();
    await this.load();
    if (this.id === id && this.job && !this.stream && !FINAL.has(this.job.status)) this.connect();
  }

  close() {
    if (this.stream) this.stream.close();
    clearTimeout(this.refreshTimer);
    Object.assign(this, { id: null, job: null, stream: null, liveEvents: 0, lastSeq: 0, refreshTimer: null, mediaFor: null });
  }

  build() {
    const el = (this.el = {});
    el.title = h("h2", { id: "job-title" }, "Job");
    el.meta = h("p", { class: "meta small muted" });
    el.status = h("div", { class: "status-line" });
    el.announce = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    el.live = h("span", { class: "live small", id: "job-live" });
    el.cancel = h("button", { type: "button", class: "danger", hidden: true, onclick: () => this.cancel() }, "Cancel job");
    el.downloads = h("span", { class: "downloads" });
    el.error = h("p", { class: "error", role: "alert" });
    el.plots = h("div", { class: "plots" });
    el.diag = h("div", { class: "diagnostics" });
    el.timeline = h("ol", { class: "timeline", id: "timeline", "aria-label": "Loop iterations" });
    el.media = h("div", { class: "media" });
    el.captions = h("div", { class: "captions" });
    el.detailsBody = h("div", { class: "details-body" });
    fill(
      this.root,
      el.title,
      el.meta,
      el.status,
      el.announce,
      h("div", { class: "job-actions" }, el.live, el.cancel, el.downloads),
      el.error,
      card("plots", "Score trajectories", el.plots),
      h("div", { class: "job-grid" }, card("diag", "Key diagnostics", el.diag), card("captions", "Captions", el.captions)),
      card("timeline", "Loop timeline", el.timeline),
      card("media", "Listen and compare", el.media),
      h("details", { class: "card run-details" }, h("summary", {}, "Run details (options, backends, timings)"), el.detailsBody),
    );
  }

  async load() {
    const id = this.id;
    const generation = (this.loads = (this.loads || 0) + 1);
    const stale = () => id !== this.id || generation !== this.loads; // another job opened, or a newer read
    try {
      const { after, job } = await getJson(`dashboard/jobs/${id}`);
      if (stale()) return;
      const before = this.job ? this.job.status : null;
      this.job = job;
      this.lastSeq = Math.max(this.lastSeq, after);
      this.render();
      if (before !== job.status || FINAL.has(job.status)) this.onChange(job);
    } catch (e) {
      if (stale()) return;
      const missing = e instanceof ApiError && e.status === 404;
      this.el.error.textContent = missing ? `Job ${id} does not exist.` : `Cannot load the job: ${e.message}`;
      this.onError(e);
    }
  }

  connect() {
    const url = apiUrl(this.job.links.events, { after: this.lastSeq });
    const stream = (this.stream = new EventSource(url));
    const handle = (message) => {
      const ev = JSON.parse(message.data);
      if (ev.seq <= this.lastSeq) return;
      this.lastSeq = ev.seq;
      this.liveEvents += 1;
      this.apply(ev);
      this.scheduleRender();
      this.refreshSoon();
    };
    stream.addEventListener("agent", handle);
    stream.addEventListener("status", handle);
    stream.addEventListener("end", () => {
      stream.close();
      if (this.stream === stream) this.stream = null;
      clearTimeout(this.refreshTimer);
      this.load(); // the final state: from the report, with its media
    });
    stream.addEventListener("open", () => this.setLive());
    stream.addEventListener("error", () => {
      if (this.stream !== stream) return;
      if (stream.readyState === EventSource.CLOSED) {
        this.stream = null;
        this.load(); // refused (auth) or gone: show what the API says now
      }
      this.setLive();
    });
    this.setLive();
  }

  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.stream) this.load();
    }, REFRESH_MS);
  }

  /** One EventPublic, applied to the job as views.py builds the timeline from stored events. */
  apply(ev) {
    const job = this.job;
    const p = ev.payload || {};
    if (ev.kind === "status") {
      if (ev.node === "cancelling") job.cancel_requested = true;
      else job.status = p.status || ev.node;
      this.onChange(job);
      return;
    }
    job.stage = ev.node;
    if (ev.node === "perceive") {
      const c = job.captions || {};
      job.captions = {
        audio: { ...(c.audio || {}), caption: p.audio_caption },
        video: { ...(c.video || {}), caption: p.video_caption },
      };
    } else if (ev.node === "reflect_original") {
      job.initial = p.scores;
      if (p.scores) job.initial_scores = { alignment: p.scores.alignment, sync: p.scores.sync };
    } else if (ev.node === "finalize") {
      job.stop_reason = p.stop_reason;
      job.best_iteration = (p.best || {}).iteration ?? null;
      job.applied_actions = (p.best || {}).actions ?? null;
    } else if (["plan", "act", "reflect", "decide"].includes(ev.node)) {
      let it = job.timeline.find((t) => t.index === ev.iteration);
      if (!it) {
        it = emptyIteration(ev.iteration);
        job.timeline.push(it);
        job.timeline.sort((a, b) => a.index - b.index);
      }
      if (ev.node === "plan") {
        Object.assign(it, { plan: p.plan, actions: ((p.plan || {}).actions || []).map((a) => a.name), scores: null, accepted: null });
      } else if (ev.node === "act") {
        it.actions = p.actions || it.actions;
      } else if (ev.node === "reflect") {
        it.scores = p.scores;
      } else {
        it.accepted = Boolean(p.accepted);
        it.scores = p.scores || it.scores;
      }
    }
  }

  scheduleRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (this.job) this.render();
    });
  }

  setLive() {
    const live = this.el.live;
    if (this.stream && this.stream.readyState === EventSource.OPEN) {
      live.textContent = `● live · ${this.liveEvents} events`;
      live.className = "live small on";
    } else if (this.stream) {
      live.textContent = "○ connecting to the event stream…";
      live.className = "live small";
    } else {
      const followed = this.liveEvents ? `followed live · ${this.liveEvents} events` : "finished";
      live.textContent = this.job && FINAL.has(this.job.status) ? followed : "not live";
      live.className = "live small";
    }
  }

  threshold() {
    return (this.job.options && this.job.options.threshold) || DEFAULT_THRESHOLD;
  }

  render() {
    const job = this.job;
    Object.assign(this.root.dataset, { jobId: job.id, status: job.status, liveEvents: this.liveEvents });
    this.renderHead(job);
    this.renderPlots(job);
    this.renderDiagnostics(job);
    this.renderTimeline(job);
    this.renderMedia(job);
    this.renderCaptions(job);
    this.renderDetails(job);
    this.setLive();
  }

  renderHead(job) {
    const el = this.el;
    el.title.textContent = job.source_name;
    fill(
      el.meta,
      h("code", {}, job.id), " · created ", timeEl(job.created_at),
      job.finished_at ? [" · finished ", timeEl(job.finished_at)] : null,
      job.duration_s ? ` · ${seconds(job.duration_s)} clip` : null,
      job.attempts > 1 ? ` · ${job.attempts} attempts` : null,
    );
    const facts = [
      job.stage ? `stage ${job.stage}` : null,
      job.stop_reason ? `stop reason: ${job.stop_reason}` : null,
      typeof job.iterations === "number" ? `${job.iterations} plan(s) tried` : null,
    ].filter(Boolean);
    fill(
      el.status,
      badge(job.status),
      job.outcome ? badge(job.outcome, "outcome") : null,
      job.cancel_requested && !FINAL.has(job.status) ? badge("cancelling", "cancelled") : null,
      h("progress", { max: 1, value: job.progress, "aria-label": "job progress" }),
      h("span", { class: "small" }, percent(job.progress)),
      h("span", { class: "small muted", id: "job-facts" }, facts.join(" · ")),
    );
    const announcement = `${job.source_name}: ${job.status}${job.outcome ? `, ${job.outcome}` : ""}`;
    if (el.announce.textContent !== announcement) el.announce.textContent = announcement;
    el.cancel.hidden = !this.canCancel() || FINAL.has(job.status) || job.cancel_requested;
    el.error.textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  }

  renderPlots(job) {
    const threshold = this.threshold();
    const last = job.timeline.length ? job.timeline[job.timeline.length - 1].index : 0;
    const maxX = Math.max(last, (job.options && job.options.max_iterations) || 1); // the x axis shows the budget
    const plotFor = (key, title) => {
      const points = [];
      if (job.initial) points.push({ x: 0, y: job.initial[key], accepted: null });
      for (const it of job.timeline) points.push({ x: it.index, y: it.scores ? it.scores[key] : null, accepted: it.accepted });
      const legend = `dashed: threshold ${num(threshold, 2)} · filled: accepted · hollow: rejected`;
      const caption = h("figcaption", {}, title, h("span", { class: "legend small muted" }, legend));
      return h("figure", { class: "plot-figure" }, caption, scorePlot({ title, series: key, points, threshold, maxX }));
    };
    fill(this.el.plots, plotFor("alignment", "Alignment"), plotFor("sync", "Sync"));
  }

  renderDiagnostics(job) {
    const initial = job.initial;
    if (!initial) {
      fill(this.el.diag, h("p", { class: "muted" }, "The original pair has not been scored yet."));
      return;
    }
    const best = bestIteration(job);
    const stopReason = job.stop_reason || (FINAL.has(job.status) ? "–" : "running");
    const after = best ? best.scores : null;
    const audio = (job.captions && job.captions.audio) || {};
    const d0 = details(initial);
    const d1 = details(after);
    const noise = (d, caption) => {
      const type = d.noise_type ?? caption.noise_type;
      const color = caption === audio && audio.noise_color ? ` (${audio.noise_color})` : "";
      return type ? `${type}${color}` : "–";
    };
    const yesNo = (v) => (v === true ? "yes" : v === false ? "no" : "–");
    const rows = [
      ["Alignment", num(initial.alignment), after ? num(after.alignment) : "–"],
      ["Sync", num(initial.sync), after ? num(after.sync) : "–"],
      ["SNR (dB)", num(d0.snr_db ?? audio.snr_db, 1), after ? num(d1.snr_db, 1) : "–"],
      ["Noise type", noise(d0, audio), after ? noise(d1, {}) : "–"],
      ["Offset (s)", num(d0.offset_s), after ? num(d1.offset_s) : "–"],
      ["Offset confidence", num(d0.offset_confidence, 2), after ? num(d1.offset_confidence, 2) : "–"],
      ["Sync cue", yesNo(d0.sync_cue), after ? yesNo(d1.sync_cue) : "–"],
      ["Loudness (LUFS)", num(d0.loudness_lufs, 1), after ? num(d1.loudness_lufs, 1) : "–"],
    ];
    const label = best ? `Kept (iteration ${best.index})` : FINAL.has(job.status) ? "Kept (original)" : "Best so far";
    fill(
      this.el.diag,
      h(
        "table",
        { class: "mini-table diag-table" },
        headRow("Measure", "Original", label),
        h(
          "tbody",
          {},
          rows.map(([name, a, b]) =>
            h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "num" }, a), h("td", { class: "num" }, b)),
          ),
        ),
      ),
      h("p", { class: "small" }, h("span", { class: "label" }, "Stop reason: "), stopReason),
    );
  }

  renderTimeline(job) {
    const threshold = this.threshold();
    const refs = references(job);
    const items = [];
    if (job.initial) items.push(["0", originalItem(job, threshold)]);
    for (const it of job.timeline) items.push([String(it.index), iterationItem(it, refs.get(it.index), threshold)]);
    if (!items.length) {
      const text = FINAL.has(job.status) ? "The loop did not run." : "Waiting for the first loop node…";
      fill(this.el.timeline, h("li", { class: "muted empty" }, text));
      return;
    }
    // Keyed update: rows that did not change keep their DOM (and any keyboard focus or text selection).
    const old = new Map([...this.el.timeline.children].map((li) => [li.dataset.iteration, li]));
    const next = items.map(([key, fresh]) => {
      const existing = old.get(key);
      return existing && existing.outerHTML === fresh.outerHTML ? existing : fresh;
    });
    this.el.timeline.replaceChildren(...next);
  }

  renderMedia(job) {
    const key = `${job.id}:${job.status}`;
    if (this.mediaFor === key) return;
    this.mediaFor = key;
    if (job.status !== "succeeded") {
      const text = FINAL.has(job.status)
        ? `The job ${job.status}: it has no results.`
        : "Audio players and spectrograms appear when the job succeeds.";
      fill(this.el.media, h("p", { class: "muted" }, text));
      clear(this.el.downloads);
      return;
    }
    const links = job.links;
    const side = (which, audioLink, specLink) =>
      h(
        "figure",
        { class: "side-by-side", dataset: { which } },
        h("figcaption", {}, which === "original" ? "Original audio" : "Repaired audio"),
        h("audio", {
          id: `audio-${which}`,
          controls: true,
          preload: "metadata",
          src: apiUrl(audioLink),
          "aria-label": `${which} audio`,
        }),
        h("img", {
          id: `spectrogram-${which}`,
          src: apiUrl(specLink),
          alt: `Spectrogram of the ${which} audio (time against frequency)`,
          width: 800,
          height: 300,
        }),
      );
    fill(
      this.el.media,
      side("original", links.original_audio, links.spectrogram_original),
      side("repaired", links.audio, links.spectrogram_repaired),
    );
    fill(
      this.el.downloads,
      h("a", { href: apiUrl(links.result), download: "" }, "Repaired video"),
      h("a", { href: apiUrl(links.audio), download: "" }, "Repaired WAV"),
      h("a", { href: apiUrl(links.report), target: "_blank", rel: "noopener" }, "Report (JSON)"),
    );
  }

  renderCaptions(job) {
    const c = job.captions || {};
    const blocks = [
      captionBlock("Audio", c.audio, c.audio && c.audio.tags),
      captionBlock("Video", c.video, c.video && c.video.labels),
    ].filter(Boolean);
    const signature = JSON.stringify([c.audio && c.audio.caption, c.video && c.video.caption, c.audio && c.audio.tags]);
    if (this.el.captions.dataset.signature === signature) return;
    this.el.captions.dataset.signature = signature;
    const empty = h("p", { class: "muted" }, "The clip has not been described yet.");
    fill(this.el.captions, ...(blocks.length ? blocks : [empty]));
  }

  renderDetails(job) {
    const applied = job.applied_actions;
    const rows = [
      ["Options", JSON.stringify(job.options)],
      ["Applied actions", applied ? applied.map((a) => `${a.name}(${paramText(a.params)})`).join("; ") || "none" : "–"],
      ["Backends", job.backends ? Object.entries(job.backends).map(([k, v]) => `${k}: ${v}`).join("\n") : "–"],
      ["Timings", job.timings ? Object.entries(job.timings).map(([k, v]) => `${k} ${num(v, 2)}`).join(" · ") : "–"],
      ["Input sha256", job.input_sha256],
      ["Started", job.started_at || "–"],
    ];
    const signature = JSON.stringify(rows);
    if (this.el.detailsBody.dataset.signature === signature) return;
    this.el.detailsBody.dataset.signature = signature;
    fill(this.el.detailsBody, h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  }

  async cancel() {
    if (!this.job || !window.confirm(`Cancel ${this.job.source_name}?`)) return;
    try {
      await api(`v1/jobs/${this.job.id}`, { method: "DELETE" });
      await this.load();
    } catch (e) {
      this.el.error.textContent = `Cannot cancel: ${e.message}`;
    }
  }
}
