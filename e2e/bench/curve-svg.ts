// A small dependency-free SVG line chart: panels of series over N, tiled in one picture.
export interface Series {
  name: string;
  color: string;
  /** Dashed: a reference line (e.g. the API server's ceiling), not the patcher. */
  dashed?: boolean;
  points: [number, number][];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

const W = 420;
const H = 260;
const PAD = { left: 56, right: 16, top: 34, bottom: 44 };

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** 0 and a round upper bound with 4 steps. */
function niceTicks(max: number): number[] {
  const raw = Math.max(max, 1e-9) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  return [0, 1, 2, 3, 4].map((i) => Math.round(i * step * 1000) / 1000);
}

function fmt(n: number): string {
  return n >= 1000 ? `${n / 1000}k` : String(n);
}

function legend(series: Series[]): string {
  return series
    .map((s, i) => {
      const y = PAD.top + 6 + i * 14;
      const dash = s.dashed ? ' stroke-dasharray="4 3"' : "";
      return (
        `<line x1="${PAD.left + 8}" y1="${y}" x2="${PAD.left + 26}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>` +
        `<text x="${PAD.left + 30}" y="${y + 4}" font-size="10">${esc(s.name)}</text>`
      );
    })
    .join("");
}

function axes(xs: number[], yTicks: number[], sx: (x: number) => number, sy: (y: number) => number): string {
  const y0 = sy(0);
  const grid = yTicks
    .map(
      (t) =>
        `<line x1="${PAD.left}" y1="${sy(t)}" x2="${W - PAD.right}" y2="${sy(t)}" stroke="#ddd"/>` +
        `<text x="${PAD.left - 6}" y="${sy(t) + 4}" font-size="10" text-anchor="end">${fmt(t)}</text>`,
    )
    .join("");
  const xTicks = xs
    .map((x) => `<text x="${sx(x)}" y="${y0 + 16}" font-size="10" text-anchor="middle">${fmt(x)}</text>`)
    .join("");
  return `${grid}<line x1="${PAD.left}" y1="${y0}" x2="${W - PAD.right}" y2="${y0}" stroke="#444"/>${xTicks}`;
}

/** One chart, drawn at (ox, oy). */
function panel(p: Panel, ox: number, oy: number): string {
  const all = p.series.flatMap((s) => s.points);
  const xs = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  const xMax = Math.max(1, ...xs);
  const yTicks = niceTicks(Math.max(0, ...all.map(([, y]) => y)));
  const yMax = yTicks.at(-1) ?? 1;
  const sx = (x: number): number => Math.round(PAD.left + (x / xMax) * (W - PAD.left - PAD.right));
  const sy = (y: number): number => Math.round(H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom));
  const lines = p.series
    .filter((s) => s.points.length)
    .map((s) => {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      const dash = s.dashed ? ' stroke-dasharray="4 3"' : "";
      const path = pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ");
      const dots = pts.map(([x, y]) => `<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${s.color}"/>`).join("");
      return `<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>${dots}`;
    })
    .join("");
  return (
    `<g transform="translate(${ox},${oy})">` +
    `<text x="${W / 2}" y="16" font-size="13" font-weight="bold" text-anchor="middle">${esc(p.title)}</text>` +
    axes(xs, yTicks, sx, sy) +
    `<text x="${W / 2}" y="${H - 8}" font-size="10" text-anchor="middle">namespaces (N)</text>` +
    `<text transform="translate(12,${H / 2}) rotate(-90)" font-size="10" text-anchor="middle">${esc(p.yLabel)}</text>` +
    lines +
    legend(p.series) +
    "</g>"
  );
}

/** The panels in a grid of `columns`, with a title and a footnote line. */
export function renderCurves(title: string, note: string, panels: Panel[], columns = 2): string {
  const rows = Math.ceil(panels.length / columns);
  const width = columns * W;
  const height = rows * H + 56;
  const body = panels.map((p, i) => panel(p, (i % columns) * W, 30 + Math.floor(i / columns) * H)).join("");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" font-size="15" font-weight="bold" text-anchor="middle">${esc(title)}</text>`,
    body,
    `<text x="8" y="${height - 10}" font-size="10" fill="#555">${esc(note)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
