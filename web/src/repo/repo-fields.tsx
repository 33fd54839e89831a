import { useEffect, useId, useState } from "react";
import { api } from "../api/client.ts";
import type { BranchList } from "../api/types.ts";

export interface RepoChoice {
  repo: string;
  baseBranch: string;
  branch: string;
}

/**
 * The repository picker of the new-task form: a registered repository, a recent one (from
 * the task list) or any URL or server path, and optionally the branches — offered from the
 * repository's branch list, which the server reads on its side (`GET /api/v1/branches`).
 */
export function RepoFields({ value, onChange }: { value: RepoChoice; onChange: (next: RepoChoice) => void }) {
  const id = useId();
  const [choices, setChoices] = useState<{ value: string; label: string }[]>([]);

  useEffect(() => {
    let live = true;
    void Promise.all([
      api.listRepositories().catch(() => ({ repositories: [] })),
      api.listTasks().catch(() => ({ tasks: [], total: 0 })),
    ]).then(([registered, recent]) => {
      if (!live) return;
      const seen = new Set<string>();
      const next: { value: string; label: string }[] = [];
      for (const repository of registered.repositories) {
        seen.add(repository.name);
        seen.add(repository.url);
        next.push({ value: repository.name, label: `${repository.name} — ${repository.url}` });
      }
      for (const task of recent.tasks) {
        const url = task.repo?.url;
        if (!url || seen.has(url)) continue;
        seen.add(url);
        next.push({ value: url, label: "recent task" });
      }
      setChoices(next);
    });
    return () => {
      live = false;
    };
  }, []);

  const branches = useBranches(value.repo.trim());
  const names = branches.list?.branches.map((branch) => branch.name) ?? [];

  return (
    <>
      <div className="field field-wide">
        <div className="field-label-row">
          <label htmlFor={`${id}-repo`}>Repository</label>
          <a href="#/repositories" className="small" data-testid="manage-repositories-link">
            Manage repositories
          </a>
        </div>
        <input
          id={`${id}-repo`}
          className="input"
          data-testid="new-task-repo"
          list={`${id}-repos`}
          value={value.repo}
          placeholder="none — or a registered name, https:// URL or server path"
          onChange={(event) => onChange({ ...value, repo: event.target.value })}
        />
        <datalist id={`${id}-repos`} data-testid="new-task-repo-choices">
          {choices.map((choice) => (
            <option key={choice.value} value={choice.value} label={choice.label} />
          ))}
        </datalist>
        {branches.error ? (
          <p className="small field-error" aria-live="polite" data-testid="new-task-repo-status">
            {branches.error}
          </p>
        ) : branches.list ? (
          <p className="small muted" data-testid="new-task-repo-status">
            {names.length} branch{names.length === 1 ? "" : "es"}
            {branches.list.default_branch ? ` · default ${branches.list.default_branch}` : ""}
          </p>
        ) : null}
        <datalist id={`${id}-branches`} data-testid="new-task-branch-choices">
          {names.map((name) => (
            <option key={name} value={name} />
          ))}
        </datalist>
      </div>
      {value.repo.trim() ? (
        <>
          <div className="field">
            <label htmlFor={`${id}-base`}>Base branch</label>
            <input
              id={`${id}-base`}
              className="input"
              data-testid="new-task-base-branch"
              list={`${id}-branches`}
              value={value.baseBranch}
              placeholder={branches.list?.default_branch ?? "default branch"}
              onChange={(event) => onChange({ ...value, baseBranch: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-branch`}>Branch</label>
            <input
              id={`${id}-branch`}
              className="input"
              data-testid="new-task-branch"
              list={`${id}-branches`}
              value={value.branch}
              placeholder="omoi/… (new), or an existing one to continue"
              onChange={(event) => onChange({ ...value, branch: event.target.value })}
            />
          </div>
        </>
      ) : null}
    </>
  );
}

/** The branches of the repository typed so far, read once typing pauses. */
function useBranches(repo: string): { list: BranchList | null; error: string | null } {
  const [state, setState] = useState<{ list: BranchList | null; error: string | null }>({
    list: null,
    error: null,
  });
  useEffect(() => {
    setState({ list: null, error: null });
    if (!repo) return;
    let live = true;
    const timer = setTimeout(() => {
      api.listBranches(repo).then(
        (list) => live && setState({ list, error: null }),
        (caught: unknown) =>
          live &&
          setState({ list: null, error: caught instanceof Error ? caught.message : "could not list the branches" }),
      );
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [repo]);
  return state;
}
