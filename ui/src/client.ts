// The GraphQL client: every request carries a fresh access token; an UNAUTHENTICATED
// answer (the session was ended, the account disabled) signs this tab out.
import { Client, cacheExchange, fetchExchange, mapExchange } from "urql";
import { forget, freshToken } from "./auth";

export function makeClient(onSignedOut: () => void): Client {
  return new Client({
    url: "/graphql",
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
    exchanges: [
      cacheExchange,
      mapExchange({
        onError(error) {
          if (error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
            forget();
            onSignedOut();
          }
        },
      }),
      fetchExchange,
    ],
    fetch: async (input, init) => {
      const token = await freshToken();
      const headers = new Headers(init?.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    },
  });
}
