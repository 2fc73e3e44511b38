import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chartOption, renderChart } from "./chart.ts";

const spec = {
  title: "Reads by bundle size",
  subtitle: "median of 3 windows",
  xName: "bundle size (resources)",
  categories: ["21", "200", "2000"],
  yAxes: [{ name: "reads/s" }, { name: "p99 (ms)" }],
  series: [
    { name: "reads/s", type: "bar" as const, data: [5000, 900, 90] },
    { name: "p99", type: "line" as const, data: [10, 40, Number.NaN], yAxis: 1 },
  ],
};

describe("chartOption", () => {
  it("default: axes named, titles kept, a missing value is a gap", () => {
    const o = chartOption(spec) as {
      title: { text: string };
      xAxis: { name: string };
      yAxis: { name: string }[];
      series: { data: (number | null)[]; yAxisIndex: number }[];
    };
    assert.equal(o.title.text, "Reads by bundle size");
    assert.equal(o.xAxis.name, "bundle size (resources)");
    assert.deepEqual(
      o.yAxis.map((a) => a.name),
      ["reads/s", "p99 (ms)"],
    );
    assert.deepEqual(o.series[1]?.data, [10, 40, null]);
    assert.equal(o.series[1]?.yAxisIndex, 1);
  });
  it("error: a series with the wrong number of values", () => {
    assert.throws(
      () => chartOption({ ...spec, series: [{ name: "x", type: "bar", data: [1] }] }),
      /1 values/,
    );
  });
});

describe("renderChart", () => {
  it("default: a PNG of the asked size", () => {
    const png = renderChart({ ...spec, width: 640, height: 360 });
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    assert.equal(png.readUInt32BE(16), 640);
    assert.equal(png.readUInt32BE(20), 360);
  });
});
