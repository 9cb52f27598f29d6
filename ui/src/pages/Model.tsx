// A registered model: its versions with stage changes, its aliases (set, move, delete) and
// the aliases' history.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import type { ModelStage } from "../gql/graphql";
import { when } from "../format";
import { Badge, ConfirmButton, Empty, ErrorText, Loading, Pager } from "../ui";

const ModelDocument = graphql(`
  query Model($id: ID!, $after: String) {
    model(id: $id) {
      id
      name
      description
      project { id name myRole }
      aliases { alias versionNumber updatedAt }
      aliasHistory(first: 50) { alias version changedAt changedBy { name } }
      versions(first: 50, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          version
          stage
          aliases
          createdAt
          createdBy { name }
          sourceRun { id name }
        }
      }
    }
  }
`);

const SetStageDocument = graphql(`
  mutation SetStage($id: ID!, $stage: ModelStage!, $archiveExisting: Boolean!) {
    setModelVersionStage(id: $id, stage: $stage, archiveExisting: $archiveExisting) { id stage }
  }
`);

const SetAliasDocument = graphql(`
  mutation SetAlias($modelId: ID!, $alias: String!, $versionId: ID!) {
    setModelAlias(modelId: $modelId, alias: $alias, versionId: $versionId) { id aliases }
  }
`);

const DeleteAliasDocument = graphql(`
  mutation DeleteAlias($modelId: ID!, $alias: String!) {
    deleteModelAlias(modelId: $modelId, alias: $alias)
  }
`);

export const STAGES: ModelStage[] = ["NONE", "STAGING", "PRODUCTION", "ARCHIVED"];

export function ModelPage() {
  const { id = "" } = useParams();
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }, refetch] = useQuery({ query: ModelDocument, variables: { id, after } });
  const reload = () => refetch({ requestPolicy: "network-only" });
  if (fetching && !data) return <Loading what="the model" />;
  if (error) return <ErrorText error={error} />;
  const model = data?.model;
  if (!model) return <Empty>This model does not exist, or you cannot see it.</Empty>;
  const canWrite = model.project.myRole === "EDITOR" || model.project.myRole === "OWNER";
  const versions = model.versions.nodes;
  return (
    <section>
      <p className="crumbs">
        <Link to="/models">Models</Link> / <Link to={`/projects/${model.project.id}`}>{model.project.name}</Link> /
      </p>
      <h1>{model.name}</h1>
      {model.description && <p>{model.description}</p>}
      <h2>Versions ({model.versions.totalCount})</h2>
      {versions.length === 0 ? (
        <Empty>No versions yet: create one from a run through the API.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Stage</th>
              <th scope="col">Aliases</th>
              <th scope="col">Source run</th>
              <th scope="col">Author</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id}>
                <td>
                  <Link to={`/models/${model.id}/versions/${v.version}`}>v{v.version}</Link>
                </td>
                <td>
                  {canWrite ? (
                    <StageChanger versionId={v.id} version={v.version} stage={v.stage} onChanged={reload} />
                  ) : (
                    <Badge value={v.stage} />
                  )}
                </td>
                <td>{v.aliases.join(", ") || "—"}</td>
                <td>{v.sourceRun ? <Link to={`/runs/${v.sourceRun.id}`}>{v.sourceRun.name}</Link> : "—"}</td>
                <td>{v.createdBy?.name ?? "—"}</td>
                <td>{when(v.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager
        hasNext={model.versions.pageInfo.hasNextPage}
        isFirst={after === null}
        loading={fetching}
        onNext={() => setAfter(model.versions.pageInfo.endCursor ?? null)}
        onFirst={() => setAfter(null)}
      />

      <h2>Aliases</h2>
      {model.aliases.length === 0 ? (
        <Empty>No aliases.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Version</th>
              <th scope="col">Since</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {model.aliases.map((a) => (
              <tr key={a.alias}>
                <td>{a.alias}</td>
                <td>v{a.versionNumber}</td>
                <td>{when(a.updatedAt)}</td>
                {canWrite && (
                  <td>
                    <DeleteAlias modelId={model.id} alias={a.alias} onDone={reload} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && versions.length > 0 && <SetAlias modelId={model.id} versions={versions} onDone={reload} />}

      <h2>Alias history</h2>
      {model.aliasHistory.length === 0 ? (
        <Empty>No alias was set yet.</Empty>
      ) : (
        <ul className="list">
          {model.aliasHistory.map((e, i) => (
            <li key={i}>
              {when(e.changedAt)}: <strong>{e.alias}</strong> {e.version ? `→ v${e.version}` : "deleted"}
              {e.changedBy && <span className="muted"> by {e.changedBy.name}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** A stage select that asks before moving, offering to archive the current PRODUCTION. */
export function StageChanger({
  versionId,
  version,
  stage,
  onChanged,
}: {
  versionId: string;
  version: number;
  stage: ModelStage;
  onChanged: () => void;
}) {
  const [target, setTarget] = useState<ModelStage | null>(null);
  const [archive, setArchive] = useState(true);
  const [result, setStage] = useMutation(SetStageDocument);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (target && !d.open) d.showModal();
    if (!target && d.open) d.close();
  }, [target]);
  return (
    <>
      <select
        aria-label={`Stage of version ${version}`}
        value={stage}
        onChange={(e) => {
          setArchive(true);
          setTarget(e.target.value as ModelStage);
        }}
      >
        {STAGES.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <ErrorText error={result.error} />
      <dialog ref={dialog} onClose={() => setTarget(null)} aria-label={`Move version ${version}`}>
        <p>
          Move version {version} from {stage} to {target}?
        </p>
        {target === "PRODUCTION" && (
          <label className="check">
            <input type="checkbox" checked={archive} onChange={(e) => setArchive(e.target.checked)} />
            Archive the version now in PRODUCTION
          </label>
        )}
        <div className="row">
          <button type="button" onClick={() => setTarget(null)}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            onClick={async () => {
              const stageTo = target!;
              setTarget(null);
              const res = await setStage({ id: versionId, stage: stageTo, archiveExisting: archive });
              if (!res.error) onChanged();
            }}
          >
            Move to {target}
          </button>
        </div>
      </dialog>
    </>
  );
}

function SetAlias({
  modelId,
  versions,
  onDone,
}: {
  modelId: string;
  versions: { id: string; version: number }[];
  onDone: () => void;
}) {
  const [alias, setAlias] = useState("");
  const [versionId, setVersionId] = useState(versions[0]?.id ?? "");
  const [result, set] = useMutation(SetAliasDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await set({ modelId, alias: alias.trim(), versionId });
    if (!res.error) {
      setAlias("");
      onDone();
    }
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Set or move an alias">
      <label>
        Alias
        <input required value={alias} placeholder="champion" onChange={(e) => setAlias(e.target.value)} />
      </label>
      <label>
        Version
        <select aria-label="Version" value={versionId} onChange={(e) => setVersionId(e.target.value)}>
          {versions.map((v) => (
            <option key={v.id} value={v.id}>
              v{v.version}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={result.fetching}>
        Set alias
      </button>
      <ErrorText error={result.error} />
    </form>
  );
}

function DeleteAlias({ modelId, alias, onDone }: { modelId: string; alias: string; onDone: () => void }) {
  const [result, remove] = useMutation(DeleteAliasDocument);
  return (
    <>
      <ConfirmButton
        label="Delete"
        question={`Delete the alias ${alias}? Clients resolving it will fail until it is set again.`}
        confirm="Delete alias"
        onConfirm={async () => {
          const res = await remove({ modelId, alias });
          if (!res.error) onDone();
        }}
      />
      <ErrorText error={result.error} />
    </>
  );
}
