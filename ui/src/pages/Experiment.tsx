// The runs table: chosen params and latest metrics as columns, a filter builder and sorting
// that all go through the API's `runs`, and a selection to compare.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useClient } from "urql";
import type { CombinedError } from "@urql/core";
import { graphql } from "../gql";
import type { ComparisonOp, RunFilter, RunOrderBy, RunStatus, RunsPageQuery } from "../gql/graphql";
import { duration, metric, when } from "../format";
import { Badge, Empty, ErrorText, Loading } from "../ui";

const RunsPageDocument = graphql(`
  query RunsPage($id: ID!, $after: String, $filter: RunFilter, $orderBy: RunOrderBy) {
    experiment(id: $id) {
      id
      name
      description
      project { id name }
      runs(first: 100, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          name
          status
          startedAt
          endedAt
          params { key value }
          latestMetrics { key value }
        }
      }
    }
  }
`);

type RunRow = NonNullable<RunsPageQuery["experiment"]>["runs"]["nodes"][number];

export type Condition =
  | { kind: "status"; value: RunStatus }
  | { kind: "name"; value: string }
  | { kind: "param" | "tag"; key: string; op: "equals" | "in"; value: string }
  | { kind: "metric"; key: string; op: ComparisonOp; value: string };

/** The API filter for a list of conditions joined by AND or OR (null when there are none). */
export function toRunFilter(conditions: Condition[], join: "AND" | "OR"): RunFilter | null {
  const parts: RunFilter[] = conditions.flatMap((c): RunFilter[] => {
    switch (c.kind) {
      case "status":
        return [{ status: [c.value] }];
      case "name":
        return c.value.trim() ? [{ nameContains: c.value.trim() }] : [];
      case "param":
      case "tag": {
        if (!c.key.trim()) return [];
        const cond =
          c.op === "equals"
            ? { key: c.key.trim(), equals: c.value }
            : { key: c.key.trim(), in: c.value.split(",").map((v) => v.trim()).filter(Boolean) };
        return [c.kind === "param" ? { params: [cond] } : { tags: [cond] }];
      }
      case "metric": {
        const value = Number(c.value);
        if (!c.key.trim() || c.value.trim() === "" || Number.isNaN(value)) return [];
        return [{ metrics: [{ key: c.key.trim(), op: c.op, value }] }];
      }
    }
  });
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0];
  return join === "AND" ? { and: parts } : { or: parts };
}

type Sort = { by: "attribute" | "metric" | "param"; key: string; direction: "ASC" | "DESC" };

function toOrderBy(sort: Sort): RunOrderBy {
  if (sort.by === "attribute") return { attribute: sort.key as RunOrderBy["attribute"], direction: sort.direction };
  return sort.by === "metric"
    ? { metric: sort.key, direction: sort.direction }
    : { param: sort.key, direction: sort.direction };
}

const STATUSES: RunStatus[] = ["RUNNING", "FINISHED", "FAILED", "KILLED"];
const OPS: ComparisonOp[] = ["LT", "LTE", "EQ", "GTE", "GT"];
const OP_TEXT: Record<ComparisonOp, string> = { LT: "<", LTE: "≤", EQ: "=", GTE: "≥", GT: ">" };
const POLL_MS = 5_000;

export function ExperimentPage() {
  const { id = "" } = useParams();
  const client = useClient();
  const navigate = useNavigate();
  const [conditions, setConditions] = useState<Condition[]>([]);
  const [join, setJoin] = useState<"AND" | "OR">("AND");
  const [applied, setApplied] = useState<RunFilter | null>(null);
  const [sort, setSort] = useState<Sort>({ by: "attribute", key: "CREATED_AT", direction: "DESC" });
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [info, setInfo] = useState<{ total: number; next: string | null } | null>(null);
  const [head, setHead] = useState<NonNullable<RunsPageQuery["experiment"]> | null | undefined>(undefined);
  const [error, setError] = useState<CombinedError | undefined>();
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [chosenParams, setChosenParams] = useState<string[] | null>(null);
  const [chosenMetrics, setChosenMetrics] = useState<string[] | null>(null);

  const fetchPage = useCallback(
    async (after: string | null) => {
      const res = await client
        .query(
          RunsPageDocument,
          { id, after, filter: applied, orderBy: toOrderBy(sort) },
          { requestPolicy: "network-only" },
        )
        .toPromise();
      setError(res.error);
      return res.data?.experiment;
    },
    [client, id, applied, sort],
  );

  // The first page, again whenever the filter or the order changes, and every few seconds
  // so runs logged elsewhere appear.
  useEffect(() => {
    let live = true;
    const load = async (first: boolean) => {
      if (first) setLoading(true);
      const experiment = await fetchPage(null);
      if (!live) return;
      setLoading(false);
      setHead(experiment ?? null);
      if (!experiment) return;
      const fresh = experiment.runs.nodes;
      setRuns((old) => {
        if (first) return fresh;
        const freshIds = new Set(fresh.map((r) => r.id));
        return [...fresh, ...old.slice(fresh.length).filter((r) => !freshIds.has(r.id))];
      });
      setInfo((old) =>
        first || !old
          ? { total: experiment.runs.totalCount, next: experiment.runs.pageInfo.hasNextPage ? experiment.runs.pageInfo.endCursor ?? null : null }
          : { ...old, total: experiment.runs.totalCount },
      );
    };
    void load(true);
    const timer = setInterval(() => document.visibilityState === "visible" && void load(false), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [fetchPage]);

  const more = async () => {
    if (!info?.next) return;
    setLoading(true);
    const experiment = await fetchPage(info.next);
    setLoading(false);
    if (!experiment) return;
    setRuns((old) => [...old, ...experiment.runs.nodes]);
    setInfo({
      total: experiment.runs.totalCount,
      next: experiment.runs.pageInfo.hasNextPage ? experiment.runs.pageInfo.endCursor ?? null : null,
    });
  };

  const paramKeys = useMemo(() => keysOf(runs, (r) => r.params), [runs]);
  const metricKeys = useMemo(() => keysOf(runs, (r) => r.latestMetrics), [runs]);
  const shownParams = chosenParams ?? paramKeys.slice(0, 4);
  const shownMetrics = chosenMetrics ?? metricKeys.slice(0, 4);

  if (head === undefined && !error) return <Loading what="the experiment" />;
  if (head === null) return <Empty>This experiment does not exist, or you cannot see it.</Empty>;

  const sortHeader = (label: string, by: Sort["by"], key: string) => {
    const active = sort.by === by && sort.key === key;
    const next: Sort = { by, key, direction: active && sort.direction === "ASC" ? "DESC" : "ASC" };
    return (
      <th scope="col" aria-sort={active ? (sort.direction === "ASC" ? "ascending" : "descending") : "none"}>
        <button type="button" className="link" onClick={() => setSort(next)}>
          {label}
          {active ? (sort.direction === "ASC" ? " ▲" : " ▼") : ""}
        </button>
      </th>
    );
  };

  return (
    <section>
      {head && (
        <p className="crumbs">
          <Link to="/projects">Projects</Link> / <Link to={`/projects/${head.project.id}`}>{head.project.name}</Link> /
        </p>
      )}
      <h1>{head?.name}</h1>
      {head?.description && <p>{head.description}</p>}

      <details className="panel" open={conditions.length > 0}>
        <summary>Filter runs</summary>
        <FilterBuilder conditions={conditions} onChange={setConditions} join={join} onJoin={setJoin} />
        <div className="row">
          <button type="button" className="primary" onClick={() => setApplied(toRunFilter(conditions, join))}>
            Apply filter
          </button>
          <button
            type="button"
            onClick={() => {
              setConditions([]);
              setApplied(null);
            }}
          >
            Clear
          </button>
        </div>
      </details>

      <details className="panel">
        <summary>Columns</summary>
        <ColumnChooser label="Params" all={paramKeys} shown={shownParams} onChange={setChosenParams} />
        <ColumnChooser label="Metrics" all={metricKeys} shown={shownMetrics} onChange={setChosenMetrics} />
      </details>

      <div className="title-row">
        <p>
          {info ? `${runs.length} of ${info.total} runs` : ""} {loading && <span className="muted">loading…</span>}
        </p>
        <button
          type="button"
          className="primary"
          disabled={selected.size < 2}
          onClick={() => navigate(`/compare?runs=${[...selected].join(",")}`)}
        >
          Compare selected ({selected.size})
        </button>
      </div>
      <ErrorText error={error} />
      {runs.length === 0 && !loading ? (
        <Empty>{applied ? "No run matches the filter." : "No runs yet: log one through the API and it appears here."}</Empty>
      ) : (
        <div className="scroll">
          <table className="runs">
            <thead>
              <tr>
                <th scope="col">
                  <span className="sr-only">Select</span>
                </th>
                {sortHeader("Name", "attribute", "NAME")}
                {sortHeader("Status", "attribute", "STATUS")}
                {sortHeader("Started", "attribute", "STARTED_AT")}
                <th scope="col">Duration</th>
                {shownParams.map((k) => sortHeader(k, "param", k))}
                {shownMetrics.map((k) => sortHeader(k, "metric", k))}
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${r.name}`}
                      checked={selected.has(r.id)}
                      onChange={(e) => {
                        const next = new Set(selected);
                        if (e.target.checked) next.add(r.id);
                        else next.delete(r.id);
                        setSelected(next);
                      }}
                    />
                  </td>
                  <td>
                    <Link to={`/runs/${r.id}`}>{r.name}</Link>
                  </td>
                  <td>
                    <Badge value={r.status} />
                  </td>
                  <td>{when(r.startedAt)}</td>
                  <td>{duration(r.startedAt, r.endedAt ?? (r.status === "RUNNING" ? null : r.startedAt))}</td>
                  {shownParams.map((k) => (
                    <td key={k}>{r.params.find((p) => p.key === k)?.value ?? ""}</td>
                  ))}
                  {shownMetrics.map((k) => (
                    <td key={k} className="num">
                      {metric(r.latestMetrics.find((m) => m.key === k)?.value)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {info?.next && (
        <button type="button" onClick={more} disabled={loading}>
          Load 100 more
        </button>
      )}
    </section>
  );
}

function keysOf(runs: RunRow[], pick: (r: RunRow) => { key: string }[]): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const kv of pick(r)) keys.add(kv.key);
  return [...keys].sort();
}

function ColumnChooser({
  label,
  all,
  shown,
  onChange,
}: {
  label: string;
  all: string[];
  shown: string[];
  onChange: (keys: string[]) => void;
}) {
  if (all.length === 0) return null;
  return (
    <fieldset>
      <legend>{label}</legend>
      {all.map((k) => (
        <label key={k} className="check">
          <input
            type="checkbox"
            checked={shown.includes(k)}
            onChange={(e) => onChange(e.target.checked ? [...shown, k] : shown.filter((s) => s !== k))}
          />
          {k}
        </label>
      ))}
    </fieldset>
  );
}

export function FilterBuilder({
  conditions,
  onChange,
  join,
  onJoin,
}: {
  conditions: Condition[];
  onChange: (c: Condition[]) => void;
  join: "AND" | "OR";
  onJoin: (j: "AND" | "OR") => void;
}) {
  const set = (i: number, c: Condition) => onChange(conditions.map((old, j) => (j === i ? c : old)));
  const add = (c: Condition) => onChange([...conditions, c]);
  return (
    <div className="stack">
      {conditions.length > 1 && (
        <label>
          Match
          <select value={join} onChange={(e) => onJoin(e.target.value as "AND" | "OR")}>
            <option value="AND">all conditions (AND)</option>
            <option value="OR">any condition (OR)</option>
          </select>
        </label>
      )}
      {conditions.map((c, i) => (
        <div className="row" key={i} role="group" aria-label={`Condition ${i + 1}`}>
          <strong>{c.kind}</strong>
          {c.kind === "status" && (
            <select aria-label="Status" value={c.value} onChange={(e) => set(i, { ...c, value: e.target.value as RunStatus })}>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
          {c.kind === "name" && (
            <input aria-label="Name contains" value={c.value} onChange={(e) => set(i, { ...c, value: e.target.value })} />
          )}
          {(c.kind === "param" || c.kind === "tag") && (
            <>
              <input aria-label="Key" placeholder="key" value={c.key} onChange={(e) => set(i, { ...c, key: e.target.value })} />
              <select aria-label="Operator" value={c.op} onChange={(e) => set(i, { ...c, op: e.target.value as "equals" | "in" })}>
                <option value="equals">equals</option>
                <option value="in">is one of</option>
              </select>
              <input
                aria-label="Value"
                placeholder={c.op === "in" ? "a, b, c" : "value"}
                value={c.value}
                onChange={(e) => set(i, { ...c, value: e.target.value })}
              />
            </>
          )}
          {c.kind === "metric" && (
            <>
              <input aria-label="Metric" placeholder="metric" value={c.key} onChange={(e) => set(i, { ...c, key: e.target.value })} />
              <select aria-label="Comparison" value={c.op} onChange={(e) => set(i, { ...c, op: e.target.value as ComparisonOp })}>
                {OPS.map((o) => (
                  <option key={o} value={o}>
                    {OP_TEXT[o]}
                  </option>
                ))}
              </select>
              <input
                aria-label="Number"
                inputMode="decimal"
                value={c.value}
                onChange={(e) => set(i, { ...c, value: e.target.value })}
              />
            </>
          )}
          <button type="button" aria-label={`Remove condition ${i + 1}`} onClick={() => onChange(conditions.filter((_, j) => j !== i))}>
            ✕
          </button>
        </div>
      ))}
      <div className="row">
        <span className="muted">Add:</span>
        <button type="button" onClick={() => add({ kind: "status", value: "FINISHED" })}>
          Status
        </button>
        <button type="button" onClick={() => add({ kind: "name", value: "" })}>
          Name
        </button>
        <button type="button" onClick={() => add({ kind: "param", key: "", op: "equals", value: "" })}>
          Param
        </button>
        <button type="button" onClick={() => add({ kind: "tag", key: "", op: "equals", value: "" })}>
          Tag
        </button>
        <button type="button" onClick={() => add({ kind: "metric", key: "", op: "GT", value: "" })}>
          Metric
        </button>
      </div>
    </div>
  );
}
