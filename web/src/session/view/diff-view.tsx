import { useState } from "react";

const MAX_LINES = 60;

function lineClass(line: string): string {
  if (line.startsWith("+++") || line.startsWith("---")) return "diff-file";
  if (line.startsWith("@@")) return "diff-hunk";
  if (line.startsWith("+")) return "diff-add";
  if (line.startsWith("-")) return "diff-del";
  if (line.startsWith("\\")) return "diff-meta";
  return "diff-context";
}

/** A unified diff, coloured by line, long ones folded. */
export function DiffView({ path, diff }: { path: string; diff: string }) {
  const [open, setOpen] = useState(false);
  // jsdiff's createPatch starts with "Index:" and a row of "="; the file header says it all.
  const lines = diff
    .replace(/\n$/, "")
    .split("\n")
    .filter((line) => !/^={5,}$/.test(line) && !line.startsWith("Index: "));
  const added = lines.filter((line) => line.startsWith("+") && !line.startsWith("+++")).length;
  const removed = lines.filter((line) => line.startsWith("-") && !line.startsWith("---")).length;
  const folded = lines.length > MAX_LINES + 5 && !open;
  const shown = folded ? lines.slice(0, MAX_LINES) : lines;
  return (
    <div className="card tool-card diff-card" data-testid="file-diff">
      <div className="tool-head">
        <span className="tool-icon" aria-hidden="true">
          ±
        </span>
        <span className="tool-name">Edited</span>
        <code className="tool-summary" title={path}>
          {path}
        </code>
        <span className="diff-counts">
          <span className="diff-add-count">+{added}</span> <span className="diff-del-count">−{removed}</span>
        </span>
      </div>
      {diff.trim() ? (
        <pre className="mono diff" title={`diff of ${path}`}>
          {shown.map((line, index) => (
            // Lines have no identity beyond their position.
            // biome-ignore lint/suspicious/noArrayIndexKey: static list
            <span key={index} className={`diff-line ${lineClass(line)}`}>
              {line || " "}
              {"\n"}
            </span>
          ))}
        </pre>
      ) : (
        <p className="muted small pad">No textual changes.</p>
      )}
      {lines.length > MAX_LINES + 5 ? (
        <button
          type="button"
          className="link-button show-more pad"
          data-testid="show-more"
          aria-expanded={open}
          onClick={() => setOpen((value) => !value)}
        >
          {open ? "show less" : `show more (${lines.length - MAX_LINES} more lines)`}
        </button>
      ) : null}
    </div>
  );
}
