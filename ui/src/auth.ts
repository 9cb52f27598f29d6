// The signed-in session. The access token lives only in memory and is refreshed a minute
// before it expires; the refresh token is kept in this origin's localStorage (no other
// origin can read it) so a reload stays signed in. Refresh tokens work once, so tabs take
// turns (a Web Lock) and each rotates the newest one.
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { graphql } from "./gql";
import type { AuthPayloadFieldsFragment } from "./gql/graphql";

const REFRESH_KEY = "maestro.refreshToken";
const EARLY_MS = 60_000;

export type SessionUser = AuthPayloadFieldsFragment["user"];

type Session = { accessToken: string; expiresAt: number; user: SessionUser };

let session: Session | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

export const AuthPayloadFields = graphql(`
  fragment AuthPayloadFields on AuthPayload {
    accessToken
    refreshToken
    expiresIn
    user { id email name role }
  }
`);

const RefreshDocument = graphql(`
  mutation Refresh($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) { ...AuthPayloadFields }
  }
`);

const LogoutDocument = graphql(`
  mutation Logout($allSessions: Boolean) {
    logout(allSessions: $allSessions)
  }
`);

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify() {
  for (const l of listeners) l();
}

export function currentUser(): SessionUser | null {
  return session?.user ?? null;
}

export function accessToken(): string | null {
  return session?.accessToken ?? null;
}

/** Keeps a fresh token pair (from sign-in, registration or refresh). */
export function signedIn(payload: AuthPayloadFieldsFragment) {
  session = {
    accessToken: payload.accessToken,
    expiresAt: Date.now() + payload.expiresIn * 1000,
    user: payload.user,
  };
  localStorage.setItem(REFRESH_KEY, payload.refreshToken);
  clearTimeout(timer);
  timer = setTimeout(() => void refresh(), Math.max(payload.expiresIn * 1000 - EARLY_MS, 5_000));
  notify();
}

/** Forgets the session here (the server already ended it, or is told separately). */
export function forget() {
  session = null;
  clearTimeout(timer);
  localStorage.removeItem(REFRESH_KEY);
  notify();
}

/** A plain POST to the API, for the calls the session itself makes. */
export async function post<R, V>(
  doc: TypedDocumentNode<R, V>,
  variables: V,
  token?: string | null,
): Promise<{ data?: R; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return res.json();
}

let inflight: Promise<boolean> | null = null;

/** Trades the stored refresh token for a new pair; false (and signed out) when it fails. */
export function refresh(): Promise<boolean> {
  inflight ??= (async () => {
    const run = async () => {
      const stored = localStorage.getItem(REFRESH_KEY);
      if (!stored) return false;
      try {
        const res = await post(RefreshDocument, { refreshToken: stored });
        if (res.data) {
          signedIn(res.data.refreshToken);
          return true;
        }
        if (localStorage.getItem(REFRESH_KEY) === stored) forget();
        return false;
      } catch {
        return session !== null; // offline: keep what we have and try again later
      }
    };
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    return locks ? locks.request("maestro-refresh", run) : run();
  })().finally(() => {
    inflight = null;
  });
  return inflight;
}

/** A token good for the next request, refreshing first when it is about to expire. */
export async function freshToken(): Promise<string | null> {
  if (session && session.expiresAt - Date.now() > EARLY_MS / 2) return session.accessToken;
  if (!localStorage.getItem(REFRESH_KEY)) return null;
  await refresh();
  return session?.accessToken ?? null;
}

/** Ends this session (or every session) on the server, then here. */
export async function signOut(everywhere = false) {
  const token = await freshToken();
  try {
    if (token) await post(LogoutDocument, { allSessions: everywhere }, token);
  } finally {
    forget();
  }
}
