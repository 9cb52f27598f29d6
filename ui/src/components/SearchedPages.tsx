// A searchable table that grows page by page: each page is its own query (a `Rows`
// component given the cursor after which it starts), and "Load more" under the last one
// adds the next. A new search starts again from the first page.
import { useState, type ComponentType } from "react";

export type PageRowsProps = { after: string | null; search: string; onMore?: (cursor: string) => void };

export function SearchedPages({
  searchLabel,
  placeholder,
  headers,
  Rows,
}: {
  searchLabel: string;
  placeholder?: string;
  headers: string[];
  Rows: ComponentType<PageRowsProps>;
}) {
  const [search, setSearch] = useState("");
  const [pages, setPages] = useState<(string | null)[]>([null]);
  return (
    <>
      <label className="search">
        {searchLabel}
        <input
          type="search"
          value={search}
          placeholder={placeholder}
          onChange={(e) => {
            setSearch(e.target.value);
            setPages([null]);
          }}
        />
      </label>
      <table>
        <thead>
          <tr>
            {headers.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        {pages.map((after, i) => (
          <Rows
            key={after ?? "first"}
            after={after}
            search={search}
            onMore={i === pages.length - 1 ? (c) => setPages([...pages, c]) : undefined}
          />
        ))}
      </table>
    </>
  );
}
