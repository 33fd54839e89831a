import type { ReactNode } from "react";
import { ConnectionBadge } from "../../components/connection-badge.tsx";
import { StatusBadge } from "../../components/status-badge.tsx";
import { formatCost, formatCount, formatDuration, formatLatency } from "../../format.ts";
import type { ConnectionState } from "../../live/event-stream.ts";
import { useNow } from "../../live/use-event-stream.ts";

export interface HeaderFigures {
  status: string | null;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  eventsReceived: number;
  averageLatencyMs: number | null;
  openedAt: number;
  lastEventAt: number | null;
}

export function SessionHeader({
  kindLabel,
  title,
  subtitle,
  figures,
  connection,
  onReconnect,
  actions,
}: {
  kindLabel: string;
  title: string;
  subtitle: ReactNode;
  figures: HeaderFigures;
  connection: ConnectionState;
  onReconnect: () => void;
  actions?: ReactNode;
}) {
  const now = useNow(1000);
  return (
    <header className="session-header card">
      <div className="session-title-row">
        <a href="#/" className="back-link" aria-label="Back to tasks">
          ←
        </a>
        <div className="session-title-block">
          <div className="eyebrow muted">{kindLabel}</div>
          <h1 className="session-title" data-testid="session-title">
            {title}
          </h1>
          <div className="muted small session-subtitle">{subtitle}</div>
        </div>
        <div className="session-badges">
          {figures.status ? <StatusBadge status={figures.status} testId="session-status" /> : null}
          <ConnectionBadge state={connection} onRetry={onReconnect} />
          {actions}
        </div>
      </div>
      <dl className="stats" data-testid="session-stats">
        <Stat label="Turns" value={String(figures.turns)} testId="stat-turns" />
        <Stat
          label="Tokens"
          value={`${formatCount(figures.inputTokens)} in · ${formatCount(figures.outputTokens)} out`}
          testId="stat-tokens"
        />
        <Stat label="Cost" value={formatCost(figures.costUsd)} testId="stat-cost" />
        <Stat label="Events" value={String(figures.eventsReceived)} testId="stat-events" />
        <Stat
          label="Avg latency"
          value={formatLatency(figures.averageLatencyMs)}
          testId="stat-latency"
          title="Mean of (time received − emitted_at) over live events"
        />
        <Stat label="Uptime" value={formatDuration(Math.max(1000, now - figures.openedAt))} testId="stat-uptime" />
        <Stat
          label="Last event"
          value={figures.lastEventAt === null ? "—" : `${formatDuration(Math.max(0, now - figures.lastEventAt))} ago`}
          testId="stat-last-event"
        />
      </dl>
    </header>
  );
}

function Stat({ label, value, testId, title }: { label: string; value: string; testId: string; title?: string }) {
  return (
    <div className="stat" title={title}>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}
