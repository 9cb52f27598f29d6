import { cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LoginPage } from "./Login";

function answer(registrationOpen: boolean) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(JSON.stringify({ data: { registrationOpen } }), { headers: { "content-type": "application/json" } })),
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("the sign-in page", () => {
  it("has labelled inputs and a Sign in button, and links to registration where it is open", async () => {
    answer(true);
    render(
      <MemoryRouter>
        <LoginPage />
      </MemoryRouter>,
    );
    expect(screen.getByLabelText("Email")).toBeTruthy();
    expect(screen.getByLabelText("Password")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Sign in" })).toBeTruthy();
    expect(await screen.findByRole("link", { name: "Register" })).toBeTruthy();
  });

  it("sends people to an administrator where registration is closed", async () => {
    answer(false);
    render(
      <MemoryRouter>
        <LoginPage />
      </MemoryRouter>,
    );
    expect(await screen.findByText("No account? Ask an administrator for one.")).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Register" })).toBeNull();
  });
});
