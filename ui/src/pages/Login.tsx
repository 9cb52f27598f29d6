import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { post, signedIn } from "../auth";
import { describe } from "../errors";
import { graphql } from "../gql";
import type { AuthPayloadFieldsFragment } from "../gql/graphql";

const LoginDocument = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) { ...AuthPayloadFields }
  }
`);

const RegistrationOpenDocument = graphql(`
  query RegistrationOpen {
    registrationOpen
  }
`);

const RegisterDocument = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) { ...AuthPayloadFields }
  }
`);

function useAfterSignIn() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = params.get("next");
  // Only paths of this app: never a redirect to another site.
  return () => navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/projects", { replace: true });
}

/** Submits a sign-in or registration, keeps the pair on success, says why on failure. */
function useAuthForm(send: () => Promise<AuthAnswer>) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const done = useAfterSignIn();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const res = await send();
      if (res.payload) {
        signedIn(res.payload);
        done();
      } else {
        setError(failure(res.errors));
      }
    } catch {
      setError(describe({ code: "NETWORK", message: "" }));
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

type AuthAnswer = { payload?: AuthPayloadFieldsFragment; errors?: Failure[] };

type Failure = { message: string; extensions?: { code?: string } } | undefined;

function failure(errors: Failure[] | undefined): string {
  const e = errors?.[0];
  const code = e?.extensions?.code ?? "INTERNAL_SERVER_ERROR";
  // Here UNAUTHENTICATED means the credentials were refused, which the server's words say.
  if (code === "UNAUTHENTICATED" && e?.message) return `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.`;
  return describe({ code, message: e?.message ?? "" });
}

export function LoginPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useAuthForm(async () => {
    const res = await post(LoginDocument, { input: { email, password } });
    return { payload: res.data?.login, errors: res.errors };
  });
  const [registrationOpen, setRegistrationOpen] = useState(false);
  useEffect(() => {
    post(RegistrationOpenDocument, {})
      .then((res) => setRegistrationOpen(res.data?.registrationOpen === true))
      .catch(() => setRegistrationOpen(false));
  }, []);
  return (
    <section className="narrow">
      <h1>Sign in to Maestro</h1>
      <form onSubmit={submit} className="stack">
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        {registrationOpen ? (
          <>
            No account? <Link to="/register">Register</Link>.
          </>
        ) : (
          "No account? Ask an administrator for one."
        )}
      </p>
    </section>
  );
}

export function RegisterPage() {
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useAuthForm(async () => {
    const res = await post(RegisterDocument, { input: { email, name, password } });
    return { payload: res.data?.register, errors: res.errors };
  });
  return (
    <section className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={submit} className="stack">
        <label>
          Name
          <input required autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={10}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Have an account? <Link to="/login">Sign in</Link>.
      </p>
    </section>
  );
}
