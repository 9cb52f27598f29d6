// GraphiQL, bundled (nothing from another host). It shares the app's session: it trades
// the stored refresh token for its own access token, so the signed-in user's requests
// carry their token; signed out, it sends none (and the API answers UNAUTHENTICATED).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import type { Fetcher } from "@graphiql/toolkit";
import "graphiql/style.css";
import { freshToken } from "../auth";

const fetcher: Fetcher = async (params, options) => {
  const token = await freshToken();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...((options?.headers as Record<string, string>) ?? {}),
  };
  if (token && !Object.keys(headers).some((h) => h.toLowerCase() === "authorization")) {
    headers.authorization = `Bearer ${token}`;
  }
  const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify(params) });
  return res.json();
};

createRoot(document.getElementById("graphiql")!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={"# Signed in through the app, requests carry your token.\n{\n  me { email role }\n}\n"} />
  </StrictMode>,
);
