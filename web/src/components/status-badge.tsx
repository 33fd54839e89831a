const TONE: Record<string, string> = {
  pending: "neutral",
  assigned: "info",
  starting: "info",
  running: "active",
  idle: "info",
  completed: "success",
  failed: "danger",
  cancelled: "warn",
  terminated: "warn",
};

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span
      className={`badge badge-${TONE[status] ?? "neutral"}`}
      data-testid={testId ?? "status-badge"}
      data-status={status}
    >
      {status === "running" ? <span className="pulse" aria-hidden="true" /> : null}
      {status}
    </span>
  );
}
