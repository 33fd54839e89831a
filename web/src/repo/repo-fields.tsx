import { useEffect, useId, useState } from "react";
import { api } from "../api/client.ts";

export interface RepoChoice {
  repo: string;
  baseBranch: string;
  branch: string;
}

/**
 * The repository picker of the new-task form: a registered repository, a recent one (from
 * the task list) or any URL or server path, and optionally the branches.
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
        next.push({ value: url, label: "recent" });
      }
      setChoices(next);
    });
    return () => {
      live = false;
    };
  }, []);

  return (
    <>
      <div className="field field-wide">
        <label htmlFor={`${id}-repo`}>Repository</label>
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
      </div>
      {value.repo.trim() ? (
        <>
          <div className="field">
            <label htmlFor={`${id}-base`}>Base branch</label>
            <input
              id={`${id}-base`}
              className="input"
              data-testid="new-task-base-branch"
              value={value.baseBranch}
              placeholder="default branch"
              onChange={(event) => onChange({ ...value, baseBranch: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-branch`}>Branch</label>
            <input
              id={`${id}-branch`}
              className="input"
              data-testid="new-task-branch"
              value={value.branch}
              placeholder="omoi/… (new)"
              onChange={(event) => onChange({ ...value, branch: event.target.value })}
            />
          </div>
        </>
      ) : null}
    </>
  );
}
