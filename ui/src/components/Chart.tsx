// A line chart of metric series against steps, drawn by uPlot (fast on long series).
// Several series (runs overlaid) are joined on their steps.
import { useEffect, useRef } from "react";
import uPlot, { type Options } from "uplot";
import "uplot/dist/uPlot.min.css";
import { align, type Series } from "./series";

export type { Series };

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

export function Chart({ title, series, height = 220 }: { title: string; series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: Options = {
      title,
      width: Math.max(el.clientWidth, 280),
      height,
      scales: { x: { time: false } },
      axes: [{ label: "step" }, {}],
      series: [
        { label: "step" },
        ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true })),
      ],
      legend: { show: true },
    };
    const plot = new uPlot(opts, align(series), el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 280), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, series, height]);
  const points = series.reduce((n, s) => n + s.points.length, 0);
  return <div ref={box} className="chart" role="img" aria-label={`Chart of ${title}`} data-points={points} />;
}
