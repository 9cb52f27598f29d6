// The caller's account: password, signing out everywhere, API tokens.
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { currentUser, signOut } from "../auth";
import { graphql } from "../gql";
import type { ApiTokenScope } from "../gql/graphql";
import { when } from "../format";
import { ConfirmButton, Empty, ErrorText, Loading } from "../ui";

const TokensDocument = graphql(`
  query ApiTokens {
    apiTokens { id name scopes createdAt expiresAt lastUsedAt }
  }
`);

const CreateTokenDocument = graphql(`
  mutation CreateToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) { token apiToken { id } }
  }
`);

const RevokeTokenDocument = graphql(`
  mutation RevokeToken($id: ID!) {
    revokeApiToken(id: $id)
  }
`);

const ChangePasswordDocument = graphql(`
  mutation ChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input)
  }
`);

export function AccountPage() {
  const user = currentUser();
  const navigate = useNavigate();
  return (
    <section>
      <h1>Your account</h1>
      <p>
        {user?.name} · {user?.email} · {user?.role}
      </p>
      <h2>Password</h2>
      <ChangePassword />
      <h2>Sessions</h2>
      <ConfirmButton
        label="Sign out everywhere"
        question="Sign out on every device, this one included?"
        confirm="Sign out everywhere"
        onConfirm={async () => {
          await signOut(true);
          navigate("/login");
        }}
      />
      <h2>API tokens</h2>
      <p className="muted">For CI and scripts: send one as `Authorization: Bearer …`.</p>
      <Tokens />
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const [result, change] = useMutation(ChangePasswordDocument);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    const res = await change({ input: { currentPassword: current, newPassword: next } });
    if (!res.error) {
      setCurrent("");
      setNext("");
      setDone(true);
    }
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Change password">
      <label>
        Current password
        <input type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      </label>
      <label>
        New password
        <input type="password" autoComplete="new-password" required minLength={10} value={next} onChange={(e) => setNext(e.target.value)} />
      </label>
      <button type="submit" disabled={result.fetching}>
        Change password
      </button>
      {done && <p role="status">Password changed; your other sessions were ended.</p>}
      <ErrorText error={result.error} />
    </form>
  );
}

function Tokens() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: TokensDocument });
  const [created, create] = useMutation(CreateTokenDocument);
  const [revoked, revoke] = useMutation(RevokeTokenDocument);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<ApiTokenScope[]>(["READ"]);
  const [days, setDays] = useState("90");
  const [secret, setSecret] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const reload = () => refetch({ requestPolicy: "network-only" });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const n = Number(days);
    const expiresAt = days && n > 0 ? new Date(Date.now() + n * 86400_000).toISOString() : null;
    const res = await create({ input: { name, scopes, expiresAt } });
    if (res.data) {
      setSecret(res.data.createApiToken.token);
      setCopied(false);
      setName("");
      reload();
    }
  };
  return (
    <>
      <form onSubmit={submit} className="inline-form" aria-label="New API token">
        <label>
          Token name
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {(["READ", "WRITE"] as const).map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <label>
          Expires in days (empty: never)
          <input inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
        </label>
        <button type="submit" disabled={created.fetching}>
          Create token
        </button>
        <ErrorText error={created.error} />
      </form>
      {secret && (
        <div className="secret" role="status">
          <p>Copy this token now: it is shown once and never again.</p>
          <code>{secret}</code>{" "}
          <button
            type="button"
            onClick={async () => {
              await navigator.clipboard.writeText(secret);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      )}
      <ErrorText error={error ?? revoked.error} />
      {fetching && !data && <Loading what="your tokens" />}
      {data && data.apiTokens.length === 0 && <Empty>No API tokens.</Empty>}
      {data && data.apiTokens.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.apiTokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.scopes.join(", ")}</td>
                <td>{when(t.createdAt)}</td>
                <td>{t.expiresAt ? when(t.expiresAt) : "never"}</td>
                <td>{when(t.lastUsedAt)}</td>
                <td>
                  <ConfirmButton
                    label={`Revoke ${t.name}`}
                    question={`Revoke ${t.name}? Whatever uses it stops working at once.`}
                    confirm="Revoke token"
                    onConfirm={async () => {
                      const res = await revoke({ id: t.id });
                      if (!res.error) reload();
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
