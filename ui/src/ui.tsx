// The small pieces every page uses: loading, empty and error states, confirmation.
import { useEffect, useRef, useState, type ReactNode } from "react";
import type { CombinedError } from "@urql/core";
import { apiError, describe } from "./errors";

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function ErrorText({ error }: { error: CombinedError | string | null | undefined }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : describe(apiError(error));
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

/** A button that asks before doing something that cannot be undone. */
export function ConfirmButton({
  label,
  question,
  confirm,
  onConfirm,
  className = "danger",
}: {
  label: string;
  question: string;
  confirm: string;
  onConfirm: () => void | Promise<void>;
  className?: string;
}) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <>
      <button type="button" className={className} onClick={() => setOpen(true)}>
        {label}
      </button>
      <dialog ref={ref} onClose={() => setOpen(false)} aria-label={question}>
        <p>{question}</p>
        <div className="row">
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button
            type="button"
            className={className}
            onClick={async () => {
              setOpen(false);
              await onConfirm();
            }}
          >
            {confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** "Load more" under a paged list. */
export function More({ hasNext, loading, onMore }: { hasNext: boolean; loading: boolean; onMore: () => void }) {
  if (!hasNext) return null;
  return (
    <button type="button" onClick={onMore} disabled={loading}>
      {loading ? "Loading…" : "Load more"}
    </button>
  );
}

/** Stage and status badges. */
export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${value.toLowerCase()}`}>{value}</span>;
}

/** Page by page through a list shown one page at a time. */
export function Pager({
  hasNext,
  isFirst,
  loading,
  onNext,
  onFirst,
}: {
  hasNext: boolean;
  isFirst: boolean;
  loading: boolean;
  onNext: () => void;
  onFirst: () => void;
}) {
  if (!hasNext && isFirst) return null;
  return (
    <div className="row">
      {!isFirst && (
        <button type="button" onClick={onFirst} disabled={loading}>
          First page
        </button>
      )}
      {hasNext && (
        <button type="button" onClick={onNext} disabled={loading}>
          Next page
        </button>
      )}
    </div>
  );
}

/** The rows a table page shows around its items: loading, an error, nothing found, and
 * the "Load more" that asks for the page after it. */
export function PageStateRows({
  columns,
  what,
  loading,
  error,
  empty,
  next,
  onMore,
}: {
  columns: number;
  what: string;
  loading: boolean;
  error?: CombinedError;
  empty: string | null;
  next: string | null;
  onMore?: (cursor: string) => void;
}) {
  const row = (content: ReactNode) => (
    <tr>
      <td colSpan={columns}>{content}</td>
    </tr>
  );
  return (
    <>
      {loading && row(<Loading what={what} />)}
      {error && row(<ErrorText error={error} />)}
      {empty && row(<Empty>{empty}</Empty>)}
      {next && onMore && row(<More hasNext loading={false} onMore={() => onMore(next)} />)}
    </>
  );
}
