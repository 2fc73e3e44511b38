/**
 * A small trend chart of one lab test (uPlot, loaded with this chunk only when a lab view opens).
 * The chart is a picture for sighted readers; its numbers are in the table beside it.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type TrendPoint = { t: number; value: number };

export default function LabTrend({
  points,
  low,
  high,
  unit,
}: {
  points: readonly TrendPoint[];
  low?: number | undefined;
  high?: number | undefined;
  unit?: string | undefined;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const sorted = [...points].sort((a, b) => a.t - b.t);
    const xs = sorted.map((p) => p.t / 1000);
    const data: uPlot.AlignedData = [
      xs,
      sorted.map((p) => p.value),
      xs.map(() => low ?? null),
      xs.map(() => high ?? null),
    ];
    const width = () => Math.max(200, Math.min(el.clientWidth, 520));
    const plot = new uPlot(
      {
        width: width(),
        height: 140,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#4a5566", grid: { show: false }, ticks: { show: false }, size: 30 },
          { stroke: "#4a5566", grid: { stroke: "#e3e8ef" }, size: 44, ...(unit ? { label: "" } : {}) },
        ],
        series: [
          {},
          { stroke: "#0b5cad", width: 2, points: { show: true, size: 6, fill: "#0b5cad" } },
          { stroke: "#8a94a6", width: 1, dash: [4, 4], points: { show: false } },
          { stroke: "#8a94a6", width: 1, dash: [4, 4], points: { show: false } },
        ],
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 140 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, low, high, unit]);
  return <div ref={box} className="trend-chart" aria-hidden="true" />;
}
