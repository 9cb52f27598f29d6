// The API's stable error codes, as sentences a person can act on. The server's own message
// (which says what to do next) follows when there is one.
import type { CombinedError } from "@urql/core";

const SENTENCES: Record<string, string> = {
  UNAUTHENTICATED: "You are signed out. Sign in again.",
  FORBIDDEN: "You are not allowed to do this.",
  NOT_FOUND: "This does not exist, or you cannot see it.",
  BAD_USER_INPUT: "Something in the form is not right.",
  CONFLICT: "This clashes with something that already exists.",
  RATE_LIMITED: "Too many attempts. Wait a moment and try again.",
  SERVICE_UNAVAILABLE: "The server is busy or a service it needs is down. Try again shortly.",
  INTERNAL_SERVER_ERROR: "The server failed. Try again; if it keeps failing, tell an administrator.",
};

export type ApiError = { code: string; message: string; field?: string };

/** The first error of a response, with its code (NETWORK when the server was not reached). */
export function apiError(error: CombinedError | undefined | null): ApiError | null {
  if (!error) return null;
  const first = error.graphQLErrors[0];
  if (first) {
    const ext = (first.extensions ?? {}) as { code?: string; field?: string };
    return { code: ext.code ?? "INTERNAL_SERVER_ERROR", message: first.message, field: ext.field };
  }
  return { code: "NETWORK", message: error.networkError?.message ?? error.message };
}

/** One sentence for an error: what kind of failure, then the server's own words. */
export function describe(error: ApiError | null): string {
  if (!error) return "";
  if (error.code === "NETWORK") return "The server cannot be reached. Check your connection and try again.";
  const sentence = SENTENCES[error.code] ?? "Something went wrong.";
  if (!error.message || error.code === "INTERNAL_SERVER_ERROR") return sentence;
  const detail = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return `${sentence} ${detail}${/[.!?]$/.test(detail) ? "" : "."}`;
}
