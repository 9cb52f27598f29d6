import { fireEvent, render, screen } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ConfirmButton } from "./ui";

beforeAll(() => {
  // jsdom has <dialog> without its modal methods.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
  };
});

describe("confirmation before destructive actions", () => {
  it("does nothing until confirmed, and nothing when cancelled", () => {
    const act = vi.fn();
    render(<ConfirmButton label="Delete" question="Delete it?" confirm="Yes, delete" onConfirm={act} />);
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(act).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Cancel", hidden: true }));
    expect(act).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete", hidden: true }));
    expect(act).toHaveBeenCalledTimes(1);
  });
});
