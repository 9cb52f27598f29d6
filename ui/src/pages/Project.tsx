import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import type { CombinedError } from "@urql/core";
import { graphql } from "../gql";
import type { ProjectRole } from "../gql/graphql";
import { when } from "../format";
import { ConfirmButton, Empty, ErrorText, Loading, Pager } from "../ui";

const ProjectDocument = graphql(`
  query Project($id: ID!, $experimentsAfter: String, $modelsAfter: String) {
    project(id: $id) {
      id
      name
      description
      myRole
      members { role addedAt user { id email name } }
      experiments(first: 50, after: $experimentsAfter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { id name description createdAt }
      }
      models(first: 50, after: $modelsAfter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { id name latestVersion { version stage } updatedAt }
      }
    }
  }
`);

const CreateExperimentDocument = graphql(`
  mutation CreateExperiment($input: CreateExperimentInput!) {
    createExperiment(input: $input) { id name }
  }
`);

const CreateModelDocument = graphql(`
  mutation CreateModel($input: CreateModelInput!) {
    createModel(input: $input) { id }
  }
`);

const AddMemberDocument = graphql(`
  mutation AddMember($input: AddProjectMemberInput!) {
    addProjectMember(input: $input) { role }
  }
`);

const UpdateMemberDocument = graphql(`
  mutation UpdateMember($input: UpdateProjectMemberInput!) {
    updateProjectMember(input: $input) { role }
  }
`);

const RemoveMemberDocument = graphql(`
  mutation RemoveMember($projectId: ID!, $userId: ID!) {
    removeProjectMember(projectId: $projectId, userId: $userId)
  }
`);

const ROLES: ProjectRole[] = ["VIEWER", "EDITOR", "OWNER"];

export function ProjectPage() {
  const { id = "" } = useParams();
  const [experimentsAfter, setExperimentsAfter] = useState<string | null>(null);
  const [modelsAfter, setModelsAfter] = useState<string | null>(null);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: ProjectDocument,
    variables: { id, experimentsAfter, modelsAfter },
  });
  const reload = () => refetch({ requestPolicy: "network-only" });
  if (fetching && !data) return <Loading what="the project" />;
  if (error) return <ErrorText error={error} />;
  const project = data?.project;
  if (!project) return <Empty>This project does not exist, or you are not a member of it.</Empty>;
  const canWrite = project.myRole === "EDITOR" || project.myRole === "OWNER";
  const isOwner = project.myRole === "OWNER";
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> /
      </p>
      <h1>{project.name}</h1>
      {project.description && <p>{project.description}</p>}
      <div className="columns">
        <div>
          <h2>Experiments ({project.experiments.totalCount})</h2>
          {canWrite && <CreateExperiment projectId={project.id} onCreated={reload} />}
          {project.experiments.nodes.length === 0 ? (
            <Empty>No experiments yet.</Empty>
          ) : (
            <ul className="list">
              {project.experiments.nodes.map((e) => (
                <li key={e.id}>
                  <Link to={`/experiments/${e.id}`}>{e.name}</Link>
                  <span className="muted"> {when(e.createdAt)}</span>
                  {e.description && <div className="muted">{e.description}</div>}
                </li>
              ))}
            </ul>
          )}
          <Pager
            hasNext={project.experiments.pageInfo.hasNextPage}
            isFirst={experimentsAfter === null}
            loading={fetching}
            onNext={() => setExperimentsAfter(project.experiments.pageInfo.endCursor ?? null)}
            onFirst={() => setExperimentsAfter(null)}
          />
        </div>
        <div>
          <h2>Models ({project.models.totalCount})</h2>
          {canWrite && <CreateModel projectId={project.id} onCreated={reload} />}
          {project.models.nodes.length === 0 ? (
            <Empty>No registered models yet.</Empty>
          ) : (
            <ul className="list">
              {project.models.nodes.map((m) => (
                <li key={m.id}>
                  <Link to={`/models/${m.id}`}>{m.name}</Link>
                  <span className="muted">
                    {" "}
                    {m.latestVersion ? `v${m.latestVersion.version} (${m.latestVersion.stage})` : "no versions"}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <Pager
            hasNext={project.models.pageInfo.hasNextPage}
            isFirst={modelsAfter === null}
            loading={fetching}
            onNext={() => setModelsAfter(project.models.pageInfo.endCursor ?? null)}
            onFirst={() => setModelsAfter(null)}
          />
        </div>
      </div>
      <h2>Members</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Added</th>
            {isOwner && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {project.members.map((m) => (
            <MemberRow key={m.user?.id ?? m.addedAt} projectId={project.id} member={m} isOwner={isOwner} onChanged={reload} />
          ))}
        </tbody>
      </table>
      {isOwner && <AddMember projectId={project.id} onAdded={reload} />}
    </section>
  );
}

type Member = { role: ProjectRole; addedAt: string; user?: { id: string; email: string; name: string } | null };

function MemberRow({
  projectId,
  member,
  isOwner,
  onChanged,
}: {
  projectId: string;
  member: Member;
  isOwner: boolean;
  onChanged: () => void;
}) {
  const [update, updateMember] = useMutation(UpdateMemberDocument);
  const [remove, removeMember] = useMutation(RemoveMemberDocument);
  const user = member.user;
  return (
    <tr>
      <td>{user?.name ?? "(deleted account)"}</td>
      <td>{user?.email}</td>
      <td>
        {isOwner && user ? (
          <select
            aria-label={`Role of ${user.email}`}
            value={member.role}
            onChange={async (e) => {
              const res = await updateMember({ input: { projectId, userId: user.id, role: e.target.value as ProjectRole } });
              if (!res.error) onChanged();
            }}
          >
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        ) : (
          member.role
        )}
        <ErrorText error={update.error} />
      </td>
      <td>{when(member.addedAt)}</td>
      {isOwner && (
        <td>
          {user && (
            <ConfirmButton
              label="Remove"
              question={`Remove ${user.email} from this project?`}
              confirm="Remove member"
              onConfirm={async () => {
                const res = await removeMember({ projectId, userId: user.id });
                if (!res.error) onChanged();
              }}
            />
          )}
          <ErrorText error={remove.error} />
        </td>
      )}
    </tr>
  );
}

function AddMember({ projectId, onAdded }: { projectId: string; onAdded: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<ProjectRole>("VIEWER");
  const [result, add] = useMutation(AddMemberDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await add({ input: { projectId, email, role } });
    if (!res.error) {
      setEmail("");
      onAdded();
    }
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add a member">
      <label>
        Member email
        <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value as ProjectRole)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={result.fetching}>
        Add member
      </button>
      <ErrorText error={result.error} />
    </form>
  );
}

/** A one-field form that creates something named in the project. */
function CreateNamed({
  label,
  action,
  create,
  onCreated,
}: {
  label: string;
  action: string;
  create: (name: string) => Promise<{ error?: CombinedError }>;
  onCreated: () => void;
}) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CombinedError | undefined>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const res = await create(name);
    setBusy(false);
    setError(res.error);
    if (!res.error) {
      setName("");
      onCreated();
    }
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label={action}>
      <label>
        {label}
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>
        {action}
      </button>
      <ErrorText error={error} />
    </form>
  );
}

function CreateExperiment({ projectId, onCreated }: { projectId: string; onCreated: () => void }) {
  const [, create] = useMutation(CreateExperimentDocument);
  return (
    <CreateNamed
      label="Experiment name"
      action="Create experiment"
      create={(name) => create({ input: { projectId, name } })}
      onCreated={onCreated}
    />
  );
}

function CreateModel({ projectId, onCreated }: { projectId: string; onCreated: () => void }) {
  const [, create] = useMutation(CreateModelDocument);
  return (
    <CreateNamed
      label="Model name"
      action="Register model"
      create={(name) => create({ input: { projectId, name } })}
      onCreated={onCreated}
    />
  );
}
