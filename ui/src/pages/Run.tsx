// One run: params, tags, latest metrics, a chart per metric, artifacts (download, upload
// through a presigned URL) and the model versions made from it.
import { useMemo, useState, type ChangeEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import { bytes, duration, metric, when } from "../format";
import { Chart } from "../components/Chart";
import { Badge, Empty, ErrorText, Loading } from "../ui";

const RunDocument = graphql(`
  query Run($id: ID!) {
    run(id: $id) {
      id
      name
      status
      startedAt
      endedAt
      createdBy { name email }
      experiment { id name project { id name myRole } }
      params { key value }
      tags { key value }
      latestMetrics { key value step timestamp }
      artifacts { id path sizeBytes contentType status createdAt downloadUrl }
      modelVersions { id version stage model { id name } }
    }
  }
`);

const HistoryDocument = graphql(`
  query History($id: ID!, $key: String!, $maxPoints: Int!) {
    run(id: $id) {
      id
      metricHistorySampled(key: $key, maxPoints: $maxPoints) { step value }
    }
  }
`);

const CreateUploadDocument = graphql(`
  mutation CreateUpload($input: CreateArtifactUploadInput!) {
    createArtifactUpload(input: $input) {
      artifact { id }
      uploadUrl
      uploadHeaders { name value }
      multipart { partSize parts { partNumber url headers { name value } } }
    }
  }
`);

const CompleteUploadDocument = graphql(`
  mutation CompleteUpload($id: ID!, $parts: [CompletedPartInput!]) {
    completeArtifactUpload(id: $id, parts: $parts) { id status }
  }
`);

export const CHART_POINTS = 1000;
/** The resolutions a person can pick for the run page's charts (`?points=`). */
const RESOLUTIONS = [1000, 10_000];

export function RunPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const asked = Number(params.get("points"));
  const points = RESOLUTIONS.includes(asked) ? asked : CHART_POINTS;
  const [{ data, fetching, error }, refetch] = useQuery({ query: RunDocument, variables: { id } });
  if (fetching && !data) return <Loading what="the run" />;
  if (error) return <ErrorText error={error} />;
  const run = data?.run;
  if (!run) return <Empty>This run does not exist, or you cannot see it.</Empty>;
  const canWrite = run.experiment.project.myRole === "EDITOR" || run.experiment.project.myRole === "OWNER";
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> /{" "}
        <Link to={`/projects/${run.experiment.project.id}`}>{run.experiment.project.name}</Link> /{" "}
        <Link to={`/experiments/${run.experiment.id}`}>{run.experiment.name}</Link> /
      </p>
      <h1>
        {run.name} <Badge value={run.status} />
      </h1>
      <p className="muted">
        Started {when(run.startedAt)} · {duration(run.startedAt, run.endedAt ?? (run.status === "RUNNING" ? null : run.startedAt))}
        {run.createdBy && ` · by ${run.createdBy.name}`}
      </p>
      <div className="columns">
        <KeyValues title="Params" items={run.params} />
        <KeyValues title="Tags" items={run.tags} />
        <div>
          <h2>Latest metrics</h2>
          {run.latestMetrics.length === 0 ? (
            <Empty>No metrics logged.</Empty>
          ) : (
            <table>
              <tbody>
                {run.latestMetrics.map((m) => (
                  <tr key={m.key}>
                    <th scope="row">{m.key}</th>
                    <td className="num">{metric(m.value)}</td>
                    <td className="muted">step {m.step}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      <div className="title-row">
        <h2>Charts</h2>
        <label>
          Points per chart
          <select value={points} onChange={(e) => setParams({ points: e.target.value }, { replace: true })}>
            {RESOLUTIONS.map((n) => (
              <option key={n} value={n}>
                {n.toLocaleString("en")}
              </option>
            ))}
          </select>
        </label>
      </div>
      {run.latestMetrics.length === 0 ? (
        <Empty>Charts appear once metrics are logged.</Empty>
      ) : (
        <div className="charts">
          {run.latestMetrics.map((m) => (
            <MetricChart key={m.key} runId={run.id} metricKey={m.key} maxPoints={points} />
          ))}
        </div>
      )}
      <h2>Artifacts</h2>
      {canWrite && <Upload runId={run.id} onDone={() => refetch({ requestPolicy: "network-only" })} />}
      {run.artifacts.length === 0 ? (
        <Empty>No artifacts.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Size</th>
              <th scope="col">Type</th>
              <th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {run.artifacts.map((a) => (
              <tr key={a.id}>
                <td>
                  {a.downloadUrl ? (
                    <a href={a.downloadUrl} download>
                      {a.path}
                    </a>
                  ) : (
                    <>
                      {a.path} <Badge value={a.status} />
                    </>
                  )}
                </td>
                <td className="num">{bytes(a.sizeBytes)}</td>
                <td>{a.contentType}</td>
                <td>{when(a.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Model versions from this run</h2>
      {run.modelVersions.length === 0 ? (
        <Empty>No model version was made from this run.</Empty>
      ) : (
        <ul className="list">
          {run.modelVersions.map((v) => (
            <li key={v.id}>
              <Link to={`/models/${v.model.id}/versions/${v.version}`}>
                {v.model.name} v{v.version}
              </Link>{" "}
              <Badge value={v.stage} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function KeyValues({ title, items }: { title: string; items: { key: string; value: string }[] }) {
  return (
    <div>
      <h2>{title}</h2>
      {items.length === 0 ? (
        <Empty>None.</Empty>
      ) : (
        <table>
          <tbody>
            {items.map((kv) => (
              <tr key={kv.key}>
                <th scope="row">{kv.key}</th>
                <td>{kv.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function MetricChart({ runId, metricKey, maxPoints }: { runId: string; metricKey: string; maxPoints: number }) {
  const [{ data, error }] = useQuery({
    query: HistoryDocument,
    variables: { id: runId, key: metricKey, maxPoints },
  });
  const points = data?.run?.metricHistorySampled;
  const series = useMemo(() => (points ? [{ label: metricKey, points }] : []), [points, metricKey]);
  if (error) return <ErrorText error={error} />;
  if (!points) return <Loading what={metricKey} />;
  return <Chart title={metricKey} series={series} />;
}

/** Uploads a file through the presigned URL(s) the API hands out, then completes it. */
function Upload({ runId, onDone }: { runId: string; onDone: () => void }) {
  const [, createUpload] = useMutation(CreateUploadDocument);
  const [, completeUpload] = useMutation(CompleteUploadDocument);
  const [state, setState] = useState<{ busy: boolean; message: string; error: boolean }>({
    busy: false,
    message: "",
    error: false,
  });
  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    setState({ busy: true, message: `Uploading ${file.name}…`, error: false });
    try {
      const created = await createUpload({
        input: { runId, path: file.name, sizeBytes: file.size, contentType: file.type || "application/octet-stream" },
      });
      const upload = created.data?.createArtifactUpload;
      if (!upload) throw new Error(created.error?.graphQLErrors[0]?.message ?? "the upload could not start");
      let parts: { partNumber: number; etag: string }[] | null = null;
      if (upload.multipart) {
        parts = [];
        const size = upload.multipart.partSize;
        for (const part of upload.multipart.parts) {
          const chunk = file.slice((part.partNumber - 1) * size, part.partNumber * size);
          const res = await fetch(part.url, { method: "PUT", headers: toHeaders(part.headers), body: chunk });
          if (!res.ok) throw new Error(`the object store refused part ${part.partNumber} (${res.status})`);
          parts.push({ partNumber: part.partNumber, etag: res.headers.get("etag") ?? "" });
        }
      } else if (upload.uploadUrl) {
        const res = await fetch(upload.uploadUrl, { method: "PUT", headers: toHeaders(upload.uploadHeaders), body: file });
        if (!res.ok) throw new Error(`the object store refused the file (${res.status})`);
      }
      const done = await completeUpload({ id: upload.artifact.id, parts });
      if (done.error) throw new Error(done.error.graphQLErrors[0]?.message ?? "the upload could not complete");
      setState({ busy: false, message: `${file.name} uploaded.`, error: false });
      onDone();
    } catch (err) {
      setState({ busy: false, message: `Upload failed: ${(err as Error).message}.`, error: true });
    }
  };
  return (
    <div className="row">
      <label className="button">
        Upload a file
        <input type="file" className="sr-only" onChange={onFile} disabled={state.busy} />
      </label>
      {state.message && (
        <span className={state.error ? "error" : "muted"} role={state.error ? "alert" : "status"}>
          {state.message}
        </span>
      )}
    </div>
  );
}

function toHeaders(list: { name: string; value: string }[]): Record<string, string> {
  return Object.fromEntries(list.map((h) => [h.name, h.value]));
}
