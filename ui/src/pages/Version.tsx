// A model version: its stage, aliases, lineage (source run → experiment → project) and
// artifacts.
import { Link, useParams } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { bytes, when } from "../format";
import { Badge, Empty, ErrorText, Loading } from "../ui";
import { StageChanger } from "./Model";

const VersionDocument = graphql(`
  query Version($id: ID!, $number: Int!) {
    model(id: $id) {
      id
      name
      project { id name myRole }
      version(number: $number) {
        id
        version
        stage
        aliases
        description
        createdAt
        createdBy { name email }
        sourceRun {
          id
          name
          status
          params { key value }
          latestMetrics { key value }
          experiment { id name project { id name } }
        }
        artifacts { id path sizeBytes contentType status downloadUrl }
      }
    }
  }
`);

export function VersionPage() {
  const { id = "", number = "" } = useParams();
  const n = Number.parseInt(number, 10);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: VersionDocument,
    variables: { id, number: Number.isFinite(n) ? n : 0 },
  });
  if (fetching && !data) return <Loading what="the version" />;
  if (error) return <ErrorText error={error} />;
  const model = data?.model;
  const v = model?.version;
  if (!model || !v) return <Empty>This model version does not exist, or you cannot see it.</Empty>;
  const canWrite = model.project.myRole === "EDITOR" || model.project.myRole === "OWNER";
  const run = v.sourceRun;
  return (
    <section>
      <p className="crumbs">
        <Link to="/models">Models</Link> / <Link to={`/models/${model.id}`}>{model.name}</Link> /
      </p>
      <h1>
        {model.name} v{v.version} <Badge value={v.stage} />
      </h1>
      <p className="muted">
        Created {when(v.createdAt)}
        {v.createdBy && ` by ${v.createdBy.name}`} · aliases: {v.aliases.join(", ") || "none"}
      </p>
      {v.description && <p>{v.description}</p>}
      {canWrite && (
        <p>
          Stage: <StageChanger versionId={v.id} version={v.version} stage={v.stage} onChanged={() => refetch({ requestPolicy: "network-only" })} />
        </p>
      )}
      <h2>Lineage</h2>
      {run ? (
        <ol className="lineage">
          <li>
            Project <Link to={`/projects/${run.experiment.project.id}`}>{run.experiment.project.name}</Link>
          </li>
          <li>
            Experiment <Link to={`/experiments/${run.experiment.id}`}>{run.experiment.name}</Link>
          </li>
          <li>
            Run <Link to={`/runs/${run.id}`}>{run.name}</Link> <Badge value={run.status} />
            <div className="muted">
              {run.params.map((p) => `${p.key}=${p.value}`).join(" · ")}
              {run.latestMetrics.length > 0 && " | "}
              {run.latestMetrics.map((m) => `${m.key}=${m.value}`).join(" · ")}
            </div>
          </li>
          <li>
            This version: {model.name} v{v.version}
          </li>
        </ol>
      ) : (
        <Empty>No source run recorded (or it was deleted, or you cannot see it).</Empty>
      )}
      <h2>Artifacts</h2>
      {v.artifacts.length === 0 ? (
        <Empty>No artifacts attached to this version.</Empty>
      ) : (
        <ul className="list">
          {v.artifacts.map((a) => (
            <li key={a.id}>
              {a.downloadUrl ? (
                <a href={a.downloadUrl} download>
                  {a.path}
                </a>
              ) : (
                a.path
              )}{" "}
              <span className="muted">
                {bytes(a.sizeBytes)} · {a.contentType}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
