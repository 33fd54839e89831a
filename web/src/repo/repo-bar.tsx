import { useState } from "react";
import { api } from "../api/client.ts";
import type { Task, TaskChanges } from "../api/types.ts";
import { DiffView } from "../session/view/diff-view.tsx";

/**
 * A task's repository under the session header: its branch, a `+N −M` badge that opens the
 * Changes panel, the pull request (or the button that creates it).
 */
export function RepoBar({ task, onChanged }: { task: Task; onChanged: () => void }) {
  const repo = task.repo;
  const [open, setOpen] = useState(false);
  const [changes, setChanges] = useState<TaskChanges | null>(null);
  const [draft, setDraft] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [compareUrl, setCompareUrl] = useState<string | null>(null);
  if (!repo) return null;

  async function toggle() {
    if (open) {
      setOpen(false);
      return;
    }
    setError(null);
    try {
      setChanges(await api.getChanges(task.id));
      setOpen(true);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "could not load the changes");
    }
  }

  async function createPullRequest() {
    setBusy(true);
    setError(null);
    try {
      const answer = await api.createPullRequest(task.id, draft);
      setCompareUrl(answer.compare_url);
      onChanged();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "could not open the pull request");
    } finally {
      setBusy(false);
    }
  }

  const counts = repo.changes;
  const pull = repo.pull_request;
  const link = compareUrl ?? repo.compare_url;
  return (
    <section className="card repo-bar" aria-label="Repository" data-testid="repo-bar">
      <div className="repo-bar-row">
        <span className="muted small">
          <code>{repo.branch}</code> ← <code>{repo.base_branch}</code> · {repo.url}
        </span>
        <button
          type="button"
          className="button small"
          data-testid="changes-badge"
          aria-expanded={open}
          disabled={!counts}
          onClick={() => void toggle()}
        >
          <span className="diff-add-count">+{counts?.added ?? 0}</span>{" "}
          <span className="diff-del-count">−{counts?.removed ?? 0}</span>
        </button>
        {pull ? (
          <a className="button small" href={pull.url} target="_blank" rel="noreferrer" data-testid="pull-request-link">
            PR #{pull.number} · {pull.draft ? "draft" : pull.state}
          </a>
        ) : (
          <>
            <label className="small">
              <input type="checkbox" checked={draft} onChange={(event) => setDraft(event.target.checked)} /> draft
            </label>
            <button
              type="button"
              className="button small primary"
              data-testid="create-pull-request"
              disabled={busy || !repo.pushed_sha}
              onClick={() => void createPullRequest()}
            >
              Create pull request
            </button>
          </>
        )}
        {!pull && link ? (
          <a className="small" href={link} target="_blank" rel="noreferrer" data-testid="compare-link">
            open the comparison
          </a>
        ) : null}
      </div>
      {repo.last_error ? (
        <div className="alert alert-warn small" data-testid="repo-error">
          Not pushed: {repo.last_error}
        </div>
      ) : null}
      {error ? (
        <div className="alert alert-danger small" role="alert">
          {error}
        </div>
      ) : null}
      {open && changes ? (
        <div className="changes-panel" data-testid="changes-panel">
          <ul className="changes-files">
            {changes.files.map((file) => (
              <li key={file.path} data-testid="changed-file">
                <code>{file.path}</code> <span className="muted small">{file.status}</span>{" "}
                <span className="diff-add-count">+{file.added ?? "?"}</span>{" "}
                <span className="diff-del-count">−{file.removed ?? "?"}</span>
              </li>
            ))}
          </ul>
          {splitDiff(changes.diff).map((part) => (
            <DiffView key={part.path} path={part.path} diff={part.diff} />
          ))}
        </div>
      ) : null}
    </section>
  );
}

/** One unified diff per file, from `git diff` output. */
function splitDiff(diff: string): { path: string; diff: string }[] {
  const parts: { path: string; diff: string }[] = [];
  for (const chunk of diff.split(/^(?=diff --git )/m)) {
    if (!chunk.startsWith("diff --git ")) continue;
    const path = / b\/(.+)$/m.exec(chunk.split("\n")[0])?.[1] ?? "file";
    parts.push({ path, diff: chunk.slice(chunk.indexOf("\n") + 1) });
  }
  return parts;
}
