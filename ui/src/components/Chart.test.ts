import { describe, expect, it } from "vitest";
import { align } from "./series";

describe("aligning series for uPlot", () => {
  it("keeps one series as it is", () => {
    expect(align([{ label: "a", points: [{ step: 0, value: 1 }, { step: 5, value: 2 }] }])).toEqual([
      [0, 5],
      [1, 2],
    ]);
  });

  it("joins several series on the union of their steps, gaps as null", () => {
    const data = align([
      { label: "a", points: [{ step: 0, value: 1 }, { step: 2, value: 3 }] },
      { label: "b", points: [{ step: 1, value: 10 }, { step: 2, value: 30 }] },
    ]);
    expect(data).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [null, 10, 30],
    ]);
  });
});
