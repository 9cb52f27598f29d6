import { useState } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "../gql";
import { when } from "../format";
import { Badge, PageStateRows } from "../ui";

const ModelsDocument = graphql(`
  query Models($first: Int!, $after: String, $search: String) {
    models(first: $first, after: $after, filter: { search: $search }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        name
        description
        updatedAt
        project { id name }
        latestVersion { version stage }
        aliases { alias versionNumber }
      }
    }
  }
`);

export function ModelsPage() {
  const [search, setSearch] = useState("");
  const [pages, setPages] = useState<(string | null)[]>([null]);
  return (
    <section>
      <h1>Model registry</h1>
      <label className="search">
        Search models by name
        <input
          type="search"
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
            setPages([null]);
          }}
        />
      </label>
      <table>
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Project</th>
            <th scope="col">Latest version</th>
            <th scope="col">Aliases</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        {pages.map((after, i) => (
          <ModelRows
            key={after ?? "first"}
            after={after}
            search={search}
            onMore={i === pages.length - 1 ? (c) => setPages([...pages, c]) : undefined}
          />
        ))}
      </table>
    </section>
  );
}

function ModelRows({ after, search, onMore }: { after: string | null; search: string; onMore?: (c: string) => void }) {
  const [{ data, fetching, error }] = useQuery({
    query: ModelsDocument,
    variables: { first: 50, after, search: search.trim() || null },
  });
  const page = data?.models;
  return (
    <tbody>
      {page?.nodes.map((m) => (
        <tr key={m.id}>
          <td>
            <Link to={`/models/${m.id}`}>{m.name}</Link>
            {m.description && <div className="muted">{m.description}</div>}
          </td>
          <td>
            <Link to={`/projects/${m.project.id}`}>{m.project.name}</Link>
          </td>
          <td>
            {m.latestVersion ? (
              <>
                v{m.latestVersion.version} <Badge value={m.latestVersion.stage} />
              </>
            ) : (
              "—"
            )}
          </td>
          <td>{m.aliases.map((a) => `${a.alias} → v${a.versionNumber}`).join(", ") || "—"}</td>
          <td>{when(m.updatedAt)}</td>
        </tr>
      ))}
      <PageStateRows
        columns={5}
        what="models"
        loading={fetching && !page}
        error={error}
        empty={page && page.nodes.length === 0 && !after ? search ? "No model matches." : "No models registered yet: register one from a project." : null}
        next={page?.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null}
        onMore={onMore}
      />
    </tbody>
  );
}
