/** The benchmark rows as an SVG: per row, bars for direct, geminate and the peer, scaled to the row's largest value. */
export function renderSvg(
  rows: {
    id: number;
    scenario: string;
    figure: string;
    unit: string;
    direct?: number;
    geminate: number;
    portkey?: number;
    met: boolean;
  }[],
): string {
  const rowHeight = 54;
  const width = 980;
  const label = 420;
  const barMax = width - label - 120;
  const colors = { direct: "#8a8f98", geminate: "#1a73e8", portkey: "#e8710a" } as const;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  let y = 40;
  const parts: string[] = [];
  parts.push(
    `<text x="10" y="24" font-size="16" font-weight="bold">geminate benchmarks (bars scaled per row; lower is better for latency, memory and bytes)</text>`,
  );
  for (const r of rows) {
    const values = { direct: r.direct, geminate: r.geminate, portkey: r.portkey };
    const max = Math.max(
      ...Object.values(values).filter((v): v is number => v !== undefined && Number.isFinite(v)),
      1e-9,
    );
    parts.push(`<text x="10" y="${y + 14}" font-size="12">${esc(`${r.id}. ${r.scenario}`)}</text>`);
    parts.push(
      `<text x="10" y="${y + 30}" font-size="11" fill="${r.met ? "#188038" : "#d93025"}">${esc(`${r.figure} (${r.unit})${r.met ? "" : " — target missed"}`)}</text>`,
    );
    let by = y;
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const w = Math.max(1, (value / max) * barMax);
      parts.push(
        `<rect x="${label}" y="${by}" width="${w.toFixed(1)}" height="14" fill="${colors[name as keyof typeof colors]}"/>`,
      );
      parts.push(
        `<text x="${label + w + 6}" y="${by + 11}" font-size="11">${name} ${value.toFixed(2)}</text>`,
      );
      by += 16;
    }
    y += rowHeight;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`;
}
