// Score trajectories as SVG: one score (alignment or sync) per iteration, 0 = the original audio, with the job's
// threshold as a dashed line. Filled points: accepted candidates; hollow: rejected; grey: still being decided.

import { num, s } from "./dom.js";

const W = 360; // viewBox width, px
const H = 200; // viewBox height, px
const PAD = { left: 40, right: 38, top: 14, bottom: 34 };
const Y_TICKS = [0, 0.25, 0.5, 0.75, 1];

/**
 * @param {object} o
 * @param {string} o.title     e.g. "Alignment"
 * @param {string} o.series    CSS modifier of the line, "alignment" or "sync"
 * @param {Array<{x: number, y: number|null, accepted: boolean|null}>} o.points  x = iteration
 * @param {number} o.threshold both scores must reach it
 * @param {number} o.maxX      the x axis runs 0..maxX
 */
export function scorePlot({ title, series, points, threshold, maxX }) {
  const xMax = Math.max(1, maxX);
  const x = (v) => PAD.left + (v / xMax) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - Math.min(Math.max(v, 0), 1)) * (H - PAD.top - PAD.bottom);
  const scored = points.filter((p) => typeof p.y === "number");
  const summary = scored.map((p) => `${p.x === 0 ? "original" : `iteration ${p.x}`} ${num(p.y)}`).join(", ");
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: `plot plot-${series}`,
    role: "img",
    "aria-label": `${title} per iteration (threshold ${num(threshold, 2)}): ${summary || "no scores yet"}`,
    "data-points": scored.length,
  });
  svg.append(s("title", {}, `${title} per iteration`));

  for (const t of Y_TICKS) {
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: "grid" }));
    svg.append(s("text", { x: PAD.left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, t.toFixed(2)));
  }
  const step = Math.max(1, Math.ceil(xMax / 10));
  for (let i = 0; i <= xMax; i += step) {
    svg.append(s("text", { x: x(i), y: H - PAD.bottom + 16, class: "tick", "text-anchor": "middle" }, i === 0 ? "orig" : i));
  }
  svg.append(s("text", { x: (PAD.left + W - PAD.right) / 2, y: H - 4, class: "axis-label", "text-anchor": "middle" }, "iteration"));
  svg.append(s("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom, class: "axis" }));
  svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: "axis" }));

  if (typeof threshold === "number") {
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(threshold), y2: y(threshold), class: "threshold" }));
    svg.append(
      s("text", { x: W - PAD.right + 4, y: y(threshold) + 4, class: "threshold-label", "text-anchor": "start" },
        num(threshold, 2), s("title", {}, "threshold: both scores must reach it")),
    );
  }

  if (scored.length > 1) {
    const d = scored.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: "line" }));
  }
  for (const p of scored) {
    const state = p.x === 0 ? "original" : p.accepted === true ? "accepted" : p.accepted === false ? "rejected" : "pending";
    const label = `${p.x === 0 ? "original" : `iteration ${p.x}`}: ${num(p.y)} (${state})`;
    svg.append(s("circle", { cx: x(p.x), cy: y(p.y), r: 4.5, class: `point point-${state}` }, s("title", {}, label)));
  }
  return svg;
}
