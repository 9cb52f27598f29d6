// Metric series and how several are joined into one table for uPlot.
import type { AlignedData } from "uplot";

export type Series = { label: string; points: { step: number; value: number }[] };

/** The series as uPlot's aligned table: one x column of every step, one y column per series. */
export function align(series: Series[]): AlignedData {
  if (series.length === 1) {
    const pts = series[0].points;
    return [pts.map((p) => p.step), pts.map((p) => p.value)];
  }
  const steps = [...new Set(series.flatMap((s) => s.points.map((p) => p.step)))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const columns = series.map((s) => {
    const ys: (number | null)[] = new Array(steps.length).fill(null);
    for (const p of s.points) ys[index.get(p.step)!] = p.value;
    return ys;
  });
  return [steps, ...columns] as AlignedData;
}

