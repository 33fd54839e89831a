import { formatDuration } from "../../format.ts";
import type { SetupItem } from "../items.ts";

function outcome(item: SetupItem): { text: string; tone: string } {
  if (!item.finished) return { text: "running…", tone: "running" };
  if (item.cached) return { text: "snapshot used", tone: "ok" };
  const duration = item.durationMs === null ? "" : ` in ${formatDuration(item.durationMs)}`;
  if (item.exitCode === 0 && !item.error) return { text: `exit 0${duration}`, tone: "ok" };
  const code = item.exitCode === null ? "no exit code" : `exit ${item.exitCode}`;
  return { text: `failed: ${code}${duration}`, tone: "failed" };
}

/**
 * The environment's setup script as a CI log: a collapsible block of its output lines with the
 * exit code and duration; open while it runs and when it failed, with the failure's tail.
 */
export function SetupLog({ item }: { item: SetupItem }) {
  const result = outcome(item);
  const failed = result.tone === "failed";
  const lines = item.lines.length > 0 ? item.lines : item.tail.map((text) => ({ stream: "stdout" as const, text }));
  return (
    <details
      className={`setup-log setup-${result.tone}`}
      data-testid="setup-log"
      data-status={result.tone}
      open={!item.finished || failed}
    >
      <summary>
        <span className="setup-title">Setup</span>
        {item.environment ? <span className="setup-env">{item.environment}</span> : null}
        {item.network ? <span className="setup-network muted">network: {item.network}</span> : null}
        <span className="setup-outcome" data-testid="setup-outcome">
          {result.text}
        </span>
      </summary>
      {item.dropped > 0 ? <div className="setup-dropped muted">{item.dropped} earlier lines not shown</div> : null}
      {lines.length > 0 ? (
        <pre className="setup-lines" data-testid="setup-lines">
          {lines.map((line, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: log lines only ever append.
            <div key={index} className={line.stream === "stderr" ? "setup-stderr" : undefined}>
              {line.text}
            </div>
          ))}
        </pre>
      ) : null}
      {item.error ? (
        <div className="alert alert-danger setup-error" role="alert" data-testid="setup-error">
          {item.error}
        </div>
      ) : null}
    </details>
  );
}
