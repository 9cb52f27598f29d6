import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { SearchedPages, type PageRowsProps } from "../components/SearchedPages";
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
  return (
    <section>
      <h1>Model registry</h1>
      <SearchedPages searchLabel="Search models by name" headers={["Model", "Project", "Latest version", "Aliases", "Updated"]} Rows={ModelRows} />
    </section>
  );
}

function ModelRows({ after, search, onMore }: PageRowsProps) {
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
