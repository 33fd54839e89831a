import { memo, useState } from "react";
import type { ToolItem } from "../items.ts";
import { FoldedText } from "./folded-text.tsx";
import { inputDetails, outputText, relativeTo, toolSummary } from "./tool-format.ts";

/** One tool call with its result once it arrives. */
export const ToolCard = memo(function ToolCard({ item, cwd }: { item: ToolItem; cwd: string | null }) {
  const isBash = item.tool.toLowerCase() === "bash";
  const [open, setOpen] = useState(isBash);
  const summary = relativeTo(cwd, toolSummary(item.tool, item.input));
  const details = inputDetails(item.tool, item.input);
  const state = item.result === null ? "running" : item.result.isError ? "error" : "done";
  const output = item.result ? outputText(item.result.output) : "";
  const expanded = open || state === "error";
  return (
    <div className={`card tool-card tool-${state}`} data-testid="tool-card" data-tool={item.tool} data-state={state}>
      <button
        type="button"
        className="tool-head tool-toggle"
        aria-expanded={expanded}
        onClick={() => setOpen((value) => !value)}
      >
        <span className={`tool-state tool-state-${state}`} role="img" aria-label={state} />
        <span className="tool-name">{item.tool}</span>
        <code className="tool-summary" title={summary}>
          {isBash && summary ? `$ ${summary.split("\n")[0]}` : summary}
        </code>
        <span className="chevron" aria-hidden="true">
          {expanded ? "▾" : "▸"}
        </span>
      </button>
      {expanded ? (
        <div className="tool-body">
          {isBash && summary.includes("\n") ? (
            <FoldedText text={`$ ${summary}`} className="tool-command" maxLines={8} />
          ) : null}
          {details ? (
            <div className="tool-section">
              <div className="tool-label">Input</div>
              <FoldedText text={details} maxLines={10} testId="tool-input" />
            </div>
          ) : null}
          {item.result ? (
            <div className="tool-section">
              <div className="tool-label">{item.result.isError ? "Error" : "Output"}</div>
              {output ? (
                <FoldedText
                  text={output}
                  maxLines={isBash ? 14 : 10}
                  className={item.result.isError ? "output-error" : "output"}
                  testId="tool-output"
                />
              ) : (
                <p className="muted small">(no output)</p>
              )}
            </div>
          ) : (
            <p className="muted small running-line">Running…</p>
          )}
        </div>
      ) : null}
    </div>
  );
});
