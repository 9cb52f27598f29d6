import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { FilterBuilder, toRunFilter, type Condition } from "./Experiment";

describe("the run filter", () => {
  it("is null without conditions and the bare condition with one", () => {
    expect(toRunFilter([], "AND")).toBeNull();
    expect(toRunFilter([{ kind: "status", value: "FAILED" }], "OR")).toEqual({ status: ["FAILED"] });
  });

  it("joins conditions with AND or OR", () => {
    const conditions: Condition[] = [
      { kind: "param", key: "lr", op: "in", value: "0.1, 0.01 ," },
      { kind: "metric", key: "loss", op: "LT", value: "0.5" },
    ];
    expect(toRunFilter(conditions, "AND")).toEqual({
      and: [{ params: [{ key: "lr", in: ["0.1", "0.01"] }] }, { metrics: [{ key: "loss", op: "LT", value: 0.5 }] }],
    });
    expect(toRunFilter(conditions, "OR")).toEqual({
      or: [{ params: [{ key: "lr", in: ["0.1", "0.01"] }] }, { metrics: [{ key: "loss", op: "LT", value: 0.5 }] }],
    });
  });

  it("leaves out conditions not filled in", () => {
    const conditions: Condition[] = [
      { kind: "metric", key: "loss", op: "GT", value: "abc" },
      { kind: "tag", key: " ", op: "equals", value: "x" },
      { kind: "name", value: "  " },
      { kind: "tag", key: "team", op: "equals", value: "vision" },
    ];
    expect(toRunFilter(conditions, "AND")).toEqual({ tags: [{ key: "team", equals: "vision" }] });
  });
});

function Harness({ onFilter }: { onFilter: (c: Condition[]) => void }) {
  const [conditions, setConditions] = useState<Condition[]>([]);
  const [join, setJoin] = useState<"AND" | "OR">("AND");
  return (
    <FilterBuilder
      conditions={conditions}
      onChange={(c) => {
        setConditions(c);
        onFilter(c);
      }}
      join={join}
      onJoin={setJoin}
    />
  );
}

describe("the filter builder", () => {
  it("adds, edits and removes conditions with labelled inputs", () => {
    let latest: Condition[] = [];
    render(<Harness onFilter={(c) => (latest = c)} />);
    fireEvent.click(screen.getByRole("button", { name: "Metric" }));
    fireEvent.change(screen.getByLabelText("Metric"), { target: { value: "accuracy" } });
    fireEvent.change(screen.getByLabelText("Number"), { target: { value: "0.9" } });
    fireEvent.change(screen.getByLabelText("Comparison"), { target: { value: "GTE" } });
    expect(toRunFilter(latest, "AND")).toEqual({ metrics: [{ key: "accuracy", op: "GTE", value: 0.9 }] });
    fireEvent.click(screen.getByRole("button", { name: "Status" }));
    expect(screen.getByLabelText("Match")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Remove condition 1" }));
    expect(latest).toEqual([{ kind: "status", value: "FINISHED" }]);
  });
});
