// The admin dashboard: users, the system's status and the audit log. Only ADMINs get here;
// the API refuses everyone else anyway.
import { useState, useSyncExternalStore } from "react";
import { useMutation, useQuery } from "urql";
import { currentUser, subscribe } from "../auth";
import { graphql } from "../gql";
import type { AuditKind, UserRole } from "../gql/graphql";
import { when } from "../format";
import { Badge, ConfirmButton, Empty, ErrorText, Loading, Pager } from "../ui";

const UsersDocument = graphql(`
  query AdminUsers($after: String, $search: String) {
    users(first: 50, after: $after, filter: { search: $search }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id email name role disabled createdAt }
    }
  }
`);

const UpdateUserDocument = graphql(`
  mutation AdminUpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) { id role disabled }
  }
`);

const StatusDocument = graphql(`
  query SystemStatus {
    systemStatus {
      database
      cache
      cacheBackend
      objectStore
      objectStoreBackend
      version
      uptimeSeconds
      counts { users projects runs metricPoints artifacts pendingObjectDeletions }
    }
  }
`);

const AuditDocument = graphql(`
  query AuditEvents($after: String, $filter: AuditEventFilter) {
    auditEvents(first: 50, after: $after, filter: $filter) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        at
        kind
        actorEmail
        actor { id email }
        subject { id email }
        project { id name }
        summary
        address
      }
    }
  }
`);

const KINDS: AuditKind[] = [
  "SIGN_IN",
  "SIGN_IN_FAILED",
  "REGISTERED",
  "PASSWORD_CHANGED",
  "USER_ROLE_CHANGED",
  "USER_DISABLED",
  "USER_ENABLED",
  "MEMBER_ADDED",
  "MEMBER_ROLE_CHANGED",
  "MEMBER_REMOVED",
  "API_TOKEN_CREATED",
  "API_TOKEN_REVOKED",
  "STAGE_CHANGED",
  "ALIAS_SET",
  "ALIAS_DELETED",
];

export function AdminPage() {
  const me = useSyncExternalStore(subscribe, currentUser);
  const [tab, setTab] = useState<"users" | "status" | "audit">("users");
  if (me?.role !== "ADMIN")
    return (
      <section>
        <h1>Not allowed</h1>
        <p role="alert">The admin dashboard is for administrators only. Ask an administrator if you need something changed.</p>
      </section>
    );
  return (
    <section>
      <h1>Administration</h1>
      <div role="tablist" className="tabs" aria-label="Admin sections">
        {(["users", "status", "audit"] as const).map((t) => (
          <button key={t} role="tab" type="button" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === "users" ? "Users" : t === "status" ? "System status" : "Audit log"}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === "users" && <Users />}
        {tab === "status" && <Status />}
        {tab === "audit" && <Audit />}
      </div>
    </section>
  );
}

function Users() {
  const [search, setSearch] = useState("");
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: UsersDocument,
    variables: { after, search: search.trim() || null },
  });
  const [update, updateUser] = useMutation(UpdateUserDocument);
  const me = currentUser();
  const change = async (id: string, input: { role?: UserRole; disabled?: boolean }) => {
    const res = await updateUser({ id, input });
    if (!res.error) refetch({ requestPolicy: "network-only" });
  };
  return (
    <>
      <label className="search">
        Search users
        <input type="search" value={search} onChange={(e) => { setSearch(e.target.value); setAfter(null); }} />
      </label>
      <ErrorText error={error ?? update.error} />
      {fetching && !data && <Loading what="users" />}
      {data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Since</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.users.nodes.map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.email}`}
                    value={u.role}
                    disabled={u.id === me?.id}
                    onChange={(e) => void change(u.id, { role: e.target.value as UserRole })}
                  >
                    <option>MEMBER</option>
                    <option>ADMIN</option>
                  </select>
                </td>
                <td>{u.disabled ? <Badge value="DISABLED" /> : <Badge value="ACTIVE" />}</td>
                <td>{when(u.createdAt)}</td>
                <td>
                  {u.id === me?.id ? (
                    <span className="muted">you</span>
                  ) : u.disabled ? (
                    <button type="button" onClick={() => void change(u.id, { disabled: false })}>
                      Enable {u.email}
                    </button>
                  ) : (
                    <ConfirmButton
                      label={`Disable ${u.email}`}
                      question={`Disable ${u.email}? They are signed out everywhere at once and cannot sign in until enabled.`}
                      confirm="Disable account"
                      onConfirm={() => change(u.id, { disabled: true })}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data?.users.nodes.length === 0 && <Empty>No user matches.</Empty>}
      <Pager
        hasNext={!!data?.users.pageInfo.hasNextPage}
        isFirst={after === null}
        loading={fetching}
        onNext={() => setAfter(data?.users.pageInfo.endCursor ?? null)}
        onFirst={() => setAfter(null)}
      />
    </>
  );
}

function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${seconds % 60}s`;
}

function Status() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: StatusDocument, requestPolicy: "network-only" });
  if (fetching && !data) return <Loading what="the system status" />;
  if (error) return <ErrorText error={error} />;
  const s = data?.systemStatus;
  if (!s) return null;
  const c = s.counts;
  return (
    <>
      <dl className="facts">
        <dt>Database</dt>
        <dd>
          <Badge value={s.database} />
        </dd>
        <dt>Cache</dt>
        <dd>
          <Badge value={s.cache} /> {s.cacheBackend}
        </dd>
        <dt>Object store</dt>
        <dd>
          <Badge value={s.objectStore} /> {s.objectStoreBackend}
        </dd>
        <dt>Version</dt>
        <dd>{s.version}</dd>
        <dt>Uptime</dt>
        <dd>{uptime(s.uptimeSeconds)}</dd>
        {c && (
          <>
            <dt>Users</dt>
            <dd>{c.users.toLocaleString()}</dd>
            <dt>Projects</dt>
            <dd>{c.projects.toLocaleString()}</dd>
            <dt>Runs</dt>
            <dd>{c.runs.toLocaleString()}</dd>
            <dt>Metric points</dt>
            <dd>{c.metricPoints.toLocaleString()}</dd>
            <dt>Artifacts</dt>
            <dd>{c.artifacts.toLocaleString()}</dd>
            <dt>Pending object deletions</dt>
            <dd>{c.pendingObjectDeletions.toLocaleString()}</dd>
          </>
        )}
      </dl>
      <button type="button" onClick={() => refetch({ requestPolicy: "network-only" })}>
        Refresh
      </button>
    </>
  );
}

function Audit() {
  const [kind, setKind] = useState<AuditKind | "">("");
  const [userId, setUserId] = useState("");
  const [after, setAfter] = useState<string | null>(null);
  const filter = { kinds: kind ? [kind] : null, userId: userId.trim() || null };
  const [{ data, fetching, error }] = useQuery({ query: AuditDocument, variables: { after, filter }, requestPolicy: "network-only" });
  return (
    <>
      <div className="inline-form">
        <label>
          Kind
          <select value={kind} onChange={(e) => { setKind(e.target.value as AuditKind | ""); setAfter(null); }}>
            <option value="">all kinds</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          User id
          <input value={userId} placeholder="any user" onChange={(e) => { setUserId(e.target.value); setAfter(null); }} />
        </label>
      </div>
      <ErrorText error={error} />
      {fetching && !data && <Loading what="the audit log" />}
      {data && data.auditEvents.nodes.length === 0 && <Empty>No event matches.</Empty>}
      {data && data.auditEvents.nodes.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">Details</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {data.auditEvents.nodes.map((e) => (
              <tr key={e.id}>
                <td>{when(e.at)}</td>
                <td>
                  <code>{e.kind}</code>
                </td>
                <td>
                  {e.actor ? (
                    <button type="button" className="link" onClick={() => setUserId(e.actor!.id)}>
                      {e.actor.email}
                    </button>
                  ) : (
                    e.actorEmail ?? "—"
                  )}
                </td>
                <td>
                  {e.summary}
                  {e.subject && e.subject.id !== e.actor?.id && <span className="muted"> · {e.subject.email}</span>}
                  {e.project && <span className="muted"> · {e.project.name}</span>}
                </td>
                <td>{e.address ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager
        hasNext={!!data?.auditEvents.pageInfo.hasNextPage}
        isFirst={after === null}
        loading={fetching}
        onNext={() => setAfter(data?.auditEvents.pageInfo.endCursor ?? null)}
        onFirst={() => setAfter(null)}
      />
    </>
  );
}
