// The submit form: POST /v1/jobs (multipart: the file and the options as JSON); unset fields take the server's
// defaults, which /dashboard/config.json shows as placeholders.

import { $, bytes, fill, h } from "./dom.js";
import { api, getJson } from "./api.js";

export class SubmitForm {
  constructor({ onSubmitted, onError }) {
    this.form = $("#submit-form");
    this.status = $("#submit-status");
    this.button = $("#submit-button");
    this.onSubmitted = onSubmitted;
    this.onError = onError;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  async init(canSubmit) {
    for (const el of this.form.elements) el.disabled = !canSubmit;
    if (!canSubmit) {
      this.status.textContent = "This key has the read role only: it cannot submit clips.";
      return;
    }
    try {
      const config = await getJson("dashboard/config.json");
      const d = config.defaults;
      $("#submit-planner").options[0].textContent = `server default (${d.planner})`;
      $("#submit-acceptance").options[0].textContent = `server default (${d.acceptance})`;
      $("#submit-threshold").placeholder = String(d.threshold);
      $("#submit-iterations").placeholder = String(d.max_iterations);
      $("#submit-seed").placeholder = String(d.seed);
      $("#submit-file-help").textContent = `up to ${bytes(config.max_upload_bytes)}`;
      const fieldset = $("#submit-actions");
      const legend = fieldset.querySelector("legend");
      fill(fieldset, legend);
      for (const name of config.actions) {
        const id = `action-${name}`;
        const box = h("input", { type: "checkbox", id, name: "allowed_actions", value: name });
        fieldset.append(h("span", { class: "check" }, box, h("label", { for: id }, name)));
      }
    } catch (e) {
      this.status.textContent = `Cannot read the server's defaults: ${e.message}`;
      this.onError(e);
    }
  }

  options() {
    const data = new FormData(this.form);
    const out = {};
    for (const key of ["planner", "acceptance"]) if (data.get(key)) out[key] = data.get(key);
    if (data.get("threshold")) out.threshold = Number(data.get("threshold"));
    if (data.get("max_iterations")) out.max_iterations = Number(data.get("max_iterations"));
    if (data.get("seed")) out.seed = Number(data.get("seed"));
    const actions = data.getAll("allowed_actions");
    if (actions.length) out.allowed_actions = actions;
    return out;
  }

  async submit() {
    const file = $("#submit-file").files[0];
    if (!file) {
      this.status.textContent = "Choose a video file first.";
      $("#submit-file").focus();
      return;
    }
    if (!this.form.reportValidity()) return;
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("options", JSON.stringify(this.options()));
    this.button.disabled = true;
    this.status.className = "small";
    this.status.textContent = `Uploading ${file.name} (${bytes(file.size)})…`;
    try {
      const { status, body } = await api("v1/jobs", { method: "POST", form });
      const replay = status === 200 ? " (an identical job already existed: showing it)" : "";
      this.status.textContent = `Submitted as ${body.id}${replay}.`;
      this.onSubmitted(body);
    } catch (e) {
      this.status.className = "small error";
      this.status.textContent = `Refused: ${e.message}`;
      this.onError(e);
    } finally {
      this.button.disabled = false;
    }
  }
}
