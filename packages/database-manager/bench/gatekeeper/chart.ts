/**
 * bench:gatekeeper's charts: Apache ECharts renders each to SVG on the server (no browser, no
 * canvas), resvg turns the SVG into a PNG beside the report. `chartOption` is pure (tested);
 * `writeChart` renders and writes.
 */
import { writeFile } from "node:fs/promises";
import { Resvg } from "@resvg/resvg-js";
import * as echarts from "echarts";

export type ChartSeries = {
  name: string;
  type: "bar" | "line" | "scatter";
  data: number[];
  /** Index into `yAxes`; default 0. */
  yAxis?: number;
  /** Series with the same stack name are stacked. */
  stack?: string;
};

export type ChartSpec = {
  title: string;
  /** A second line under the title: what was measured, where. */
  subtitle?: string;
  /** The x axis' name, with its unit. */
  xName: string;
  categories: string[];
  /** One or two y axes, each named with its unit. */
  yAxes: { name: string; log?: boolean }[];
  series: ChartSeries[];
  width?: number;
  height?: number;
};

export function chartOption(spec: ChartSpec): Record<string, unknown> {
  if (spec.yAxes.length === 0 || spec.yAxes.length > 2) throw new Error("a chart has one or two y axes");
  for (const s of spec.series) {
    if (s.data.length !== spec.categories.length)
      throw new Error(
        `series "${s.name}" has ${s.data.length} values for ${spec.categories.length} categories`,
      );
    if ((s.yAxis ?? 0) >= spec.yAxes.length) throw new Error(`series "${s.name}" names a missing y axis`);
  }
  return {
    animation: false,
    backgroundColor: "#ffffff",
    textStyle: { fontFamily: "DejaVu Sans" },
    title: { text: spec.title, subtext: spec.subtitle ?? "", left: "center" },
    legend: { bottom: 0, itemGap: 40 },
    grid: { left: 80, right: spec.yAxes.length > 1 ? 80 : 40, top: 90, bottom: 80 },
    xAxis: {
      type: "category",
      name: spec.xName,
      nameLocation: "middle",
      nameGap: 30,
      data: spec.categories,
    },
    yAxis: spec.yAxes.map((a) => ({
      type: a.log ? "log" : "value",
      name: a.log ? `${a.name}, log scale` : a.name,
      nameLocation: "middle",
      nameGap: 55,
    })),
    series: spec.series.map((s) => ({
      name: s.name,
      type: s.type,
      data: s.data.map((v) => (Number.isFinite(v) ? v : null)),
      yAxisIndex: s.yAxis ?? 0,
      ...(s.stack ? { stack: s.stack } : {}),
      label: {
        show: s.type !== "scatter" && !s.stack && spec.categories.length <= 12,
        position: s.type === "line" ? "right" : "top",
      },
      ...(s.type === "line" ? { symbolSize: 8, lineStyle: { width: 2 } } : {}),
    })),
  };
}

/** Renders the chart to PNG bytes. */
export function renderChart(spec: ChartSpec): Buffer {
  const width = spec.width ?? 900;
  const height = spec.height ?? 500;
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption(chartOption(spec));
    const svg = chart.renderToSVGString();
    return new Resvg(svg, {
      background: "#ffffff",
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
    })
      .render()
      .asPng();
  } finally {
    // ECharts keeps an animation timer alive until the chart is disposed.
    chart.dispose();
  }
}

export async function writeChart(file: string, spec: ChartSpec): Promise<void> {
  await writeFile(file, renderChart(spec));
}
