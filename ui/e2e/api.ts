// The API as the tests' own client: what a CI job or a script does beside the browser.
import type { APIRequestContext } from "@playwright/test";

export type Gql = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>) => Promise<T>;

/** Calls the API and fails the test on any error. */
export function client(request: APIRequestContext, token?: string): Gql {
  return async (query, variables = {}) => {
    const res = await request.post("/graphql", {
      data: { query, variables },
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const body = await res.json();
    if (body.errors) throw new Error(`API error: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

/** The raw answer, errors included. */
export async function raw(request: APIRequestContext, token: string, query: string, variables = {}) {
  const res = await request.post("/graphql", { data: { query, variables }, headers: { authorization: `Bearer ${token}` } });
  return res.json();
}

export const PASSWORD = "correct horse battery staple";

/** Registers (or signs in) an account and returns its access token and id. */
export async function account(request: APIRequestContext, email: string, name: string) {
  const gql = client(request);
  const fields = "accessToken user { id }";
  try {
    const d = await gql(`mutation($i: RegisterInput!) { register(input: $i) { ${fields} } }`, {
      i: { email, name, password: PASSWORD },
    });
    return { token: d.register.accessToken as string, id: d.register.user.id as string };
  } catch {
    const d = await gql(`mutation($i: LoginInput!) { login(input: $i) { ${fields} } }`, {
      i: { email, password: PASSWORD },
    });
    return { token: d.login.accessToken as string, id: d.login.user.id as string };
  }
}
