// The dashboard's entry point: session (login form -> POST /v1/session, an HttpOnly cookie), the hash route
// (#/jobs/<id> opens a job) and the refresh loop of the fleet and the jobs list.

import { $ } from "./dom.js";
import { api, onUnauthorized } from "./api.js";
import { renderFleet } from "./fleet.js";
import { JobsList } from "./jobs.js";
import { JobView } from "./job.js";
import { SubmitForm } from "./submit.js";

const SESSION_FLAG = "avagent.dashboard.session"; // set after a login: only then is the cookie worth checking
const FLEET_EVERY_MS = 5000;
const JOBS_EVERY_MS = 4000;
const JOB_ROUTE = /^#\/jobs\/([0-9a-f]{32})$/;

const state = { me: null, timers: [], fleetBusy: false };

const ignore = () => {}; // errors are shown where they happen; 401s go to the login form

const jobs = new JobsList({ onError: ignore });
const view = new JobView({
  root: $("#job"),
  canCancel: () => Boolean(state.me && state.me.roles.includes("submit")),
  onChange: () => Promise.all([jobs.refresh(), refreshFleet()]),
  onError: ignore,
});
const submitForm = new SubmitForm({
  onSubmitted: (job) => {
    jobs.refresh();
    location.hash = `#/jobs/${job.id}`;
  },
  onError: ignore,
});

function show(which) {
  $("#boot").hidden = true;
  $("#login").hidden = which !== "login";
  $("#app").hidden = which !== "app";
  $("#who").hidden = which !== "app";
}

function showLogin(message = "") {
  stopPolling();
  view.close();
  state.me = null;
  localStorage.removeItem(SESSION_FLAG);
  $("#login-error").textContent = message;
  show("login");
  $("#login-key").focus();
}

async function refreshFleet() {
  if (state.fleetBusy) return;
  state.fleetBusy = true;
  try {
    const { body } = await api("v1/stats");
    renderFleet($("#fleet-body"), body);
    $("#fleet-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $("#fleet-updated").textContent = `cannot read /v1/stats: ${e.message}`;
  } finally {
    state.fleetBusy = false;
  }
}

function startPolling() {
  stopPolling();
  const every = (fn, ms) => state.timers.push(setInterval(() => document.hidden || fn(), ms));
  every(refreshFleet, FLEET_EVERY_MS);
  every(() => jobs.refresh({ poll: true }), JOBS_EVERY_MS);
}

function stopPolling() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
}

function route() {
  if (!state.me) return;
  const match = JOB_ROUTE.exec(location.hash);
  if (match) {
    jobs.select(match[1]);
    view.open(match[1]);
    if (document.activeElement === document.body) $("#job").focus({ preventScroll: true });
  }
}

async function enter(me) {
  state.me = me;
  $("#who-name").textContent = me.name;
  $("#who-role").textContent = me.role;
  show("app");
  await submitForm.init(me.roles.includes("submit"));
  await Promise.all([refreshFleet(), jobs.refresh()]);
  startPolling();
  route();
}

async function login(event) {
  event.preventDefault();
  const input = $("#login-key");
  const key = input.value.trim();
  if (!key) {
    $("#login-error").textContent = "Enter an API key.";
    input.focus();
    return;
  }
  try {
    const { body } = await api("v1/session", { method: "POST", json: { key } });
    input.value = "";
    localStorage.setItem(SESSION_FLAG, "1");
    $("#login-error").textContent = "";
    await enter(body);
  } catch (e) {
    $("#login-error").textContent = e.status === 401 ? "That key is not valid (or was revoked)." : `Cannot log in: ${e.message}`;
    input.select();
  }
}

async function logout() {
  try {
    await api("v1/session", { method: "DELETE" });
  } finally {
    showLogin("Logged out.");
  }
}

async function boot() {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  onUnauthorized.add((message) => {
    if (state.me) showLogin(`Your session ended: ${message}`);
  });
  if (!localStorage.getItem(SESSION_FLAG)) {
    showLogin();
    return;
  }
  try {
    const { body } = await api("v1/whoami");
    await enter(body);
  } catch {
    showLogin("Your session has ended: log in again.");
  }
}

boot();
