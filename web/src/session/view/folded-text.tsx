import { useMemo, useState } from "react";

/** Monospaced text that shows its first lines and folds the rest behind "show more". */
export function FoldedText({
  text,
  maxLines = 14,
  className,
  testId,
}: {
  text: string;
  maxLines?: number;
  className?: string;
  testId?: string;
}) {
  const [open, setOpen] = useState(false);
  const lines = useMemo(() => text.split("\n"), [text]);
  const folded = lines.length > maxLines + 2 && !open;
  const shown = folded ? lines.slice(0, maxLines).join("\n") : text;
  return (
    <div className="folded">
      <pre className={`mono ${className ?? ""}`} data-testid={testId}>
        {shown}
      </pre>
      {lines.length > maxLines + 2 ? (
        <button
          type="button"
          className="link-button show-more"
          data-testid="show-more"
          aria-expanded={open}
          onClick={() => setOpen((value) => !value)}
        >
          {open ? "show less" : `show more (${lines.length - maxLines} more lines)`}
        </button>
      ) : null}
    </div>
  );
}
