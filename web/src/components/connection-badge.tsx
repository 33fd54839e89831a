import type { ConnectionState } from "../live/event-stream.ts";
import { useNow } from "../live/use-event-stream.ts";

const LABELS: Record<ConnectionState["phase"], string> = {
  connecting: "connecting…",
  replaying: "loading history…",
  live: "live",
  reconnecting: "reconnecting…",
  closed: "disconnected",
};

export function ConnectionBadge({ state, onRetry }: { state: ConnectionState; onRetry?: () => void }) {
  const now = useNow(500);
  const wait = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : 0;
  const detail =
    state.phase === "reconnecting" && state.attempt > 0
      ? ` (attempt ${state.attempt}${wait > 0 ? `, in ${wait}s` : ""})`
      : "";
  return (
    <span
      className={`connection connection-${state.phase}`}
      data-testid="connection-state"
      data-state={state.phase}
      title={state.reason ?? undefined}
      role="status"
    >
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[state.phase]}
      {detail}
      {onRetry && (state.phase === "reconnecting" || state.phase === "closed") ? (
        <button type="button" className="link-button" onClick={onRetry}>
          retry now
        </button>
      ) : null}
    </span>
  );
}
