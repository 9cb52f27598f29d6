// Runs side by side: one chart per metric with the runs overlaid, params with the
// differing ones marked.
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { metric } from "../format";
import { Chart, type Series } from "../components/Chart";
import { Badge, Empty, ErrorText, Loading } from "../ui";
import { CHART_POINTS } from "./Run";

const CompareDocument = graphql(`
  query Compare($id: ID!) {
    run(id: $id) {
      id
      name
      status
      experiment { id name }
      params { key value }
      latestMetrics { key value }
    }
  }
`);

const CompareHistoryDocument = graphql(`
  query CompareHistory($id: ID!, $key: String!, $maxPoints: Int!) {
    run(id: $id) { id name metricHistorySampled(key: $key, maxPoints: $maxPoints) { step value } }
  }
`);

/** At most this many runs are compared at once. */
export const MAX_COMPARED = 10;

export function ComparePage() {
  const [params] = useSearchParams();
  const ids = (params.get("runs") ?? "").split(",").map((s) => s.trim()).filter(Boolean).slice(0, MAX_COMPARED);
  if (ids.length === 0) return <Empty>Choose runs to compare from an experiment's runs table.</Empty>;
  // Keyed by the runs: a new set mounts afresh, so each run keeps its own query hook.
  return <Comparison key={ids.join(",")} ids={ids} />;
}

function useRun(id: string) {
  return useQuery({ query: CompareDocument, variables: { id } })[0];
}

function Comparison({ ids }: { ids: string[] }) {
  // One query hook per run; the parent's key keeps their number fixed for this instance.
  const results = ids.map((id) => ({ id, ...useRun(id) }));
  const loading = results.some((r) => r.fetching && !r.data);
  const error = results.find((r) => r.error)?.error;
  const runs = results.flatMap((r) => (r.data?.run ? [r.data.run] : []));
  const paramKeys = [...new Set(runs.flatMap((r) => r.params.map((p) => p.key)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => r.latestMetrics.map((m) => m.key)))].sort();
  if (loading) return <Loading what="the runs" />;
  return (
    <section>
      <h1>Compare {runs.length} runs</h1>
      <ErrorText error={error} />
      {runs.length < results.length && <p className="error">Some runs do not exist or you cannot see them.</p>}
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Param</th>
              {runs.map((r) => (
                <th scope="col" key={r.id}>
                  <Link to={`/runs/${r.id}`}>{r.name}</Link> <Badge value={r.status} />
                  <div className="muted">{r.experiment.name}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {paramKeys.map((k) => {
              const values = runs.map((r) => r.params.find((p) => p.key === k)?.value);
              const differs = new Set(values).size > 1;
              return (
                <tr key={k} className={differs ? "differs" : undefined}>
                  <th scope="row">
                    {k}
                    {differs && <span className="sr-only"> (differs)</span>}
                  </th>
                  {values.map((v, i) => (
                    <td key={runs[i].id}>{v ?? "—"}</td>
                  ))}
                </tr>
              );
            })}
            {metricKeys.map((k) => (
              <tr key={`m:${k}`}>
                <th scope="row">{k} (latest)</th>
                {runs.map((r) => (
                  <td key={r.id} className="num">
                    {metric(r.latestMetrics.find((m) => m.key === k)?.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted">Rows whose params differ between runs are marked.</p>
      <h2>Charts</h2>
      <div className="charts">
        {metricKeys.map((k) => (
          <Overlay key={`${k}:${runs.map((r) => r.id).join(",")}`} metricKey={k} runIds={runs.map((r) => r.id)} />
        ))}
      </div>
    </section>
  );
}

function useHistory(id: string, key: string) {
  return useQuery({ query: CompareHistoryDocument, variables: { id, key, maxPoints: CHART_POINTS } })[0];
}

function Overlay({ metricKey, runIds }: { metricKey: string; runIds: string[] }) {
  // One query hook per run; the key given by the parent keeps their number fixed.
  const results = runIds.map((id) => useHistory(id, metricKey));
  const ready = results.every((r) => r.data || r.error);
  const data = results.map((r) => r.data?.run);
  const series: Series[] = useMemo(
    () => data.flatMap((run) => (run && run.metricHistorySampled.length > 0 ? [{ label: run.name, points: run.metricHistorySampled }] : [])),
    [ready, ...data],
  );
  if (!ready) return <Loading what={metricKey} />;
  return <Chart title={metricKey} series={series} />;
}
