import { useCallback, useEffect, useId, useState } from "react";
import { api } from "../api/client.ts";
import type { Environment, Repository } from "../api/types.ts";
import { PageAlerts } from "../components/page-alerts.tsx";
import { RepositoryForm } from "./repository-form.tsx";
import { describeCredential, environmentName } from "./repository-form-state.ts";

/**
 * Lists registered repositories (credential as its masked hint, default branch, default
 * environment); registers one, sets or clears its default environment, forgets one. The
 * server validates and its message is shown where the person acted.
 */
export function RepositoriesPage() {
  const [repositories, setRepositories] = useState<Repository[] | null>(null);
  const [environments, setEnvironments] = useState<Environment[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api
      .listRepositories()
      .then((body) => {
        setRepositories(body.repositories);
        setError(null);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "could not list repositories"));
    api
      .listEnvironments()
      .then((body) => setEnvironments(body.environments))
      .catch(() => setEnvironments([]));
  }, []);
  useEffect(load, [load]);

  return (
    <div className="page narrow">
      <section className="card" aria-labelledby="repositories-title">
        <h1 id="repositories-title" className="card-title">
          Repositories
        </h1>
        <PageAlerts error={error} notice={notice} testId="repositories" />
        {repositories === null ? (
          <p className="muted">Loading…</p>
        ) : repositories.length === 0 ? (
          <p className="muted" data-testid="repositories-empty">
            No registered repositories yet. A task may still name any URL or server path; registering one keeps its
            credential, sealed, for fetching and pushing.
          </p>
        ) : (
          <ul className="repository-list" data-testid="repository-list">
            {repositories.map((repository) => (
              <RepositoryRow
                key={repository.id}
                repository={repository}
                environments={environments}
                onChanged={(message) => {
                  setNotice(message);
                  load();
                }}
              />
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="new-repository-title">
        <h2 id="new-repository-title" className="card-title">
          Register a repository
        </h2>
        <RepositoryForm
          environments={environments}
          onDone={(repository) => {
            setNotice(`${repository.name}: registered.`);
            load();
          }}
        />
      </section>
    </div>
  );
}

function RepositoryRow({
  repository,
  environments,
  onChanged,
}: {
  repository: Repository;
  environments: Environment[];
  onChanged: (message: string) => void;
}) {
  const id = useId();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const defaultBranch = useDefaultBranch(repository.name);
  const current = environmentName(repository.environment_id, environments);

  async function act(what: string, action: () => Promise<unknown>, done: string) {
    setBusy(true);
    try {
      await action();
      setError(null);
      onChanged(done);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : `could not ${what}`);
    } finally {
      setBusy(false);
    }
  }

  function setEnvironment(environmentId: string) {
    const name = environmentName(environmentId || null, environments);
    void act(
      "change the default environment",
      () => api.setRepositoryEnvironment(repository.id, environmentId || null),
      name
        ? `${repository.name}: tasks run in ${name} unless they name another.`
        : `${repository.name}: tasks run in no environment unless they name one.`,
    );
  }

  function forget() {
    if (!window.confirm(`Forget the repository “${repository.name}” and its credential?`)) return;
    void act("forget the repository", () => api.deleteRepository(repository.id), `${repository.name}: forgotten.`);
  }

  return (
    <li className="repository-row" data-testid="repository-row" data-name={repository.name}>
      <div className="environment-head">
        <strong data-testid="repository-name">{repository.name}</strong>
        <span className="repository-actions">
          <button
            type="button"
            className="button small"
            data-testid="repository-edit"
            aria-expanded={editing}
            disabled={busy}
            onClick={() => setEditing((open) => !open)}
          >
            Edit
          </button>
          <button
            type="button"
            className="button small"
            data-testid="repository-forget"
            disabled={busy}
            onClick={forget}
          >
            Forget
          </button>
        </span>
      </div>
      <div className="repository-url mono small" data-testid="repository-url">
        {repository.url}
      </div>
      <div className="muted small" data-testid="repository-meta">
        <span data-testid="repository-credential-hint">{describeCredential(repository)}</span>
        {repository.api_base_url ? ` · API ${repository.api_base_url}` : ""}
        {defaultBranch.name ? (
          <span data-testid="repository-default-branch"> · default branch {defaultBranch.name}</span>
        ) : null}
      </div>
      {defaultBranch.error ? (
        <div className="small field-error" data-testid="repository-branches-error">
          {defaultBranch.error}
        </div>
      ) : null}
      <div className="repository-environment">
        <label htmlFor={`${id}-environment`} className="small muted">
          Default environment
        </label>
        <select
          id={`${id}-environment`}
          className="input"
          data-testid="repository-environment"
          disabled={busy}
          value={repository.environment_id ?? ""}
          onChange={(event) => setEnvironment(event.target.value)}
        >
          <option value="">none</option>
          {environments.map((environment) => (
            <option key={environment.id} value={environment.id}>
              {environment.name}
            </option>
          ))}
          {repository.environment_id && current === repository.environment_id ? (
            <option value={repository.environment_id}>{repository.environment_id}</option>
          ) : null}
        </select>
      </div>
      {editing ? (
        <RepositoryForm
          environments={environments}
          editing={repository}
          onCancel={() => setEditing(false)}
          onDone={(saved) => {
            setEditing(false);
            onChanged(`${saved.name}: saved.`);
          }}
        />
      ) : null}
      {error ? (
        <div className="alert alert-danger" role="alert" data-testid="repository-row-error">
          {error}
        </div>
      ) : null}
    </li>
  );
}

/** The repository's default branch, which the server reads with its credential. */
function useDefaultBranch(name: string): { name: string | null; error: string | null } {
  const [state, setState] = useState<{ name: string | null; error: string | null }>({ name: null, error: null });
  useEffect(() => {
    let live = true;
    api.listBranches(name).then(
      (list) => live && setState({ name: list.default_branch, error: null }),
      (caught: unknown) =>
        live &&
        setState({
          name: null,
          error: `Branches unknown: ${caught instanceof Error ? caught.message : "the server could not read them"}`,
        }),
    );
    return () => {
      live = false;
    };
  }, [name]);
  return state;
}
