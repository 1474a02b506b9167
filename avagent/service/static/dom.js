// DOM and formatting helpers. Text always goes in through textContent, never innerHTML: clip names, captions
// and planner reasoning come from uploads and models.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("a", {href: "#", class: "x", dataset: {id: 1}, onclick: fn}, "text", child) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return append(el, children);
}

/** The same for SVG elements (attributes only). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(key, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Replace an element's children (nested arrays flattened; null, undefined and false skipped). */
export function fill(el, ...children) {
  return append(clear(el), children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A table header row: one column header per name. */
export function headRow(...names) {
  return h("thead", {}, h("tr", {}, names.map((name) => h("th", { scope: "col" }, name))));
}

export const FINAL = new Set(["succeeded", "failed", "cancelled"]);

export function num(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function signed(value, digits = 3) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  const text = value.toFixed(digits);
  return value > 0 ? `+${text}` : text === (0).toFixed(digits) ? `±${text}` : text;
}

export function percent(value, digits = 0) {
  return typeof value === "number" && Number.isFinite(value) ? `${(100 * value).toFixed(digits)} %` : "–";
}

export function seconds(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

export function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

/** "12 s ago", "3 min ago", "2 h ago", else the local date. */
export function ago(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  const secs = (Date.now() - when.getTime()) / 1000;
  if (secs < 60) return `${Math.max(0, Math.round(secs))} s ago`;
  if (secs < 3600) return `${Math.round(secs / 60)} min ago`;
  if (secs < 86400) return `${Math.round(secs / 3600)} h ago`;
  return when.toLocaleDateString();
}

export function timeEl(iso) {
  return iso ? h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, ago(iso)) : "–";
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

/** key=value pairs of an action's parameters (nulls left out: they mean "the action's default"). */
export function paramText(params) {
  return Object.entries(params || {})
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(4) : JSON.stringify(v).replace(/^"|"$/g, "")}`)
    .join(", ");
}
