import { CombinedError } from "@urql/core";
import { GraphQLError } from "graphql";
import { describe as suite, expect, it } from "vitest";
import { apiError, describe } from "./errors";

suite("errors in words", () => {
  it("puts the code's sentence before the server's own words", () => {
    const error = new CombinedError({
      graphQLErrors: [new GraphQLError("a project needs an OWNER: make another member OWNER first", { extensions: { code: "CONFLICT" } })],
    });
    expect(describe(apiError(error))).toBe(
      "This clashes with something that already exists. A project needs an OWNER: make another member OWNER first.",
    );
  });

  it("never shows an internal error's message", () => {
    expect(describe({ code: "INTERNAL_SERVER_ERROR", message: "panic at src/x.rs" })).not.toContain("panic");
  });

  it("says when the server cannot be reached", () => {
    const error = new CombinedError({ networkError: new Error("Failed to fetch") });
    expect(apiError(error)?.code).toBe("NETWORK");
    expect(describe(apiError(error))).toMatch(/cannot be reached/);
  });

  it("has a sentence for an unknown code", () => {
    expect(describe({ code: "SOMETHING_NEW", message: "x" })).toBe("Something went wrong. X.");
  });
});
