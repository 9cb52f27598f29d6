import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { SearchedPages, type PageRowsProps } from "../components/SearchedPages";
import { graphql } from "../gql";
import { when } from "../format";
import { ErrorText, PageStateRows } from "../ui";

const ProjectsDocument = graphql(`
  query Projects($first: Int!, $after: String, $search: String) {
    projects(first: $first, after: $after, filter: { search: $search }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id name description createdAt myRole }
    }
  }
`);

const CreateProjectDocument = graphql(`
  mutation CreateProject($input: CreateProjectInput!) {
    createProject(input: $input) { id }
  }
`);

export function ProjectsPage() {
  return (
    <section>
      <div className="title-row">
        <h1>Projects</h1>
        <CreateProject />
      </div>
      <SearchedPages searchLabel="Search projects" placeholder="Name or description" headers={["Name", "Description", "Your role", "Created"]} Rows={ProjectRows} />
    </section>
  );
}

function ProjectRows({ after, search, onMore }: PageRowsProps) {
  const [{ data, fetching, error }] = useQuery({
    query: ProjectsDocument,
    variables: { first: 50, after, search: search.trim() || null },
  });
  const page = data?.projects;
  return (
    <tbody>
      {page?.nodes.map((p) => (
        <tr key={p.id}>
          <td>
            <Link to={`/projects/${p.id}`}>{p.name}</Link>
          </td>
          <td>{p.description}</td>
          <td>{p.myRole ?? "—"}</td>
          <td>{when(p.createdAt)}</td>
        </tr>
      ))}
      <PageStateRows
        columns={4}
        what="projects"
        loading={fetching && !page}
        error={error}
        empty={page && page.nodes.length === 0 && !after ? search ? "No project matches." : "No projects yet: create the first one." : null}
        next={page?.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null}
        onMore={onMore}
      />
    </tbody>
  );
}

function CreateProject() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [result, create] = useMutation(CreateProjectDocument);
  const navigate = useNavigate();
  if (!open)
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New project
      </button>
    );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const res = await create({ input: { name, description: description || null } });
    if (res.data) navigate(`/projects/${res.data.createProject.id}`);
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="New project">
      <label>
        Name
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={result.fetching}>
        Create project
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorText error={result.error} />
    </form>
  );
}
