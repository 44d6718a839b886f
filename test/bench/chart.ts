/** One panel of horizontal bars sharing a linear scale. */
export interface Panel {
  readonly title: string;
  readonly bars: ReadonlyArray<{
    readonly label: string;
    readonly value: number;
    readonly ours?: boolean;
  }>;
  /** How to print a value at the end of its bar. */
  readonly format: (value: number) => string;
}

const WIDTH = 760;
const LABEL_WIDTH = 290;
const BAR_HEIGHT = 18;
const GAP = 6;
const OURS = "#2b7bb9";
const OTHER = "#9aa5b1";

const xml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An SVG of the panels one below the other: a chart a person can open in a browser. */
export function barChartSvg(title: string, panels: readonly Panel[]): string {
  const parts: string[] = [];
  let y = 34;
  parts.push(`<text x="12" y="22" font-size="16" font-weight="bold">${xml(title)}</text>`);
  for (const panel of panels) {
    y += 14;
    parts.push(
      `<text x="12" y="${y}" font-size="13" font-weight="bold">${xml(panel.title)}</text>`,
    );
    y += 8;
    const max = Math.max(...panel.bars.map((b) => b.value), Number.MIN_VALUE);
    for (const bar of panel.bars) {
      const width = Math.max(1, ((WIDTH - LABEL_WIDTH - 90) * bar.value) / max);
      const mid = y + BAR_HEIGHT / 2 + 4;
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${mid}" font-size="12" text-anchor="end">${xml(bar.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${bar.ours ? OURS : OTHER}"/>`,
        `<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${mid}" font-size="12">${xml(panel.format(bar.value))}</text>`,
      );
      y += BAR_HEIGHT + GAP;
    }
    y += 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y + 10}" font-family="sans-serif">`,
    `<title>${xml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
