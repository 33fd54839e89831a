import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client.ts";
import type { Environment, NetworkPolicy, Repository } from "../api/types.ts";
import { PageAlerts } from "../components/page-alerts.tsx";
import { EnvironmentForm } from "./environment-form.tsx";

function describe(network: NetworkPolicy): string {
  return network.level === "custom" ? `custom (${network.hosts?.join(", ") ?? ""})` : network.level;
}

/**
 * Lists environments; creates, edits and deletes them, and asks for a fresh setup snapshot.
 * The server validates and its message is shown.
 */
export function EnvironmentsPage() {
  const [environments, setEnvironments] = useState<Environment[] | null>(null);
  const [repositories, setRepositories] = useState<Repository[]>([]);
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api
      .listEnvironments()
      .then((body) => setEnvironments(body.environments))
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "could not list environments"));
    api
      .listRepositories()
      .then((body) => setRepositories(body.repositories))
      .catch(() => setRepositories([]));
  }, []);
  useEffect(load, [load]);

  async function act(what: string, action: () => Promise<unknown>, done?: string) {
    try {
      await action();
      setError(null);
      setNotice(done ?? null);
      load();
    } catch (caught) {
      setNotice(null);
      setError(caught instanceof Error ? caught.message : `could not ${what}`);
    }
  }

  function remove(environment: Environment) {
    if (!window.confirm(`Delete the environment “${environment.name}”?`)) return;
    void act("delete the environment", () => api.deleteEnvironment(environment.id));
  }

  function rebuild(environment: Environment) {
    void act(
      "ask for a new snapshot",
      () => api.rebuildSnapshots(environment.id),
      `${environment.name}: the next task runs the setup script again and keeps a new snapshot.`,
    );
  }

  return (
    <div className="page narrow">
      <section className="card" aria-labelledby="environments-title">
        <h1 id="environments-title" className="card-title">
          Environments
        </h1>
        <PageAlerts error={error} notice={notice} testId="environments" />
        {environments === null ? (
          <p className="muted">Loading…</p>
        ) : environments.length === 0 ? (
          <p className="muted" data-testid="environments-empty">
            No environments yet.
          </p>
        ) : (
          <ul className="environment-list" data-testid="environment-list">
            {environments.map((environment) => (
              <EnvironmentRow
                key={environment.id}
                environment={environment}
                defaultOf={repositories.filter((repository) => repository.environment_id === environment.id)}
                editing={editing === environment.id}
                onEdit={() => setEditing(editing === environment.id ? null : environment.id)}
                onSaved={() => {
                  setEditing(null);
                  setNotice(`${environment.name}: saved.`);
                  load();
                }}
                onRebuild={() => rebuild(environment)}
                onDelete={() => remove(environment)}
              />
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="new-environment-title">
        <h2 id="new-environment-title" className="card-title">
          New environment
        </h2>
        <EnvironmentForm onDone={load} />
      </section>
    </div>
  );
}

function EnvironmentRow({
  environment,
  defaultOf,
  editing,
  onEdit,
  onSaved,
  onRebuild,
  onDelete,
}: {
  environment: Environment;
  defaultOf: Repository[];
  editing: boolean;
  onEdit: () => void;
  onSaved: () => void;
  onRebuild: () => void;
  onDelete: () => void;
}) {
  const servers = Object.keys(environment.mcp_servers);
  const variableCount = Object.keys(environment.variables).length;
  return (
    <li className="environment-row" data-testid="environment-row" data-name={environment.name}>
      <div className="environment-head">
        <strong data-testid="environment-name">{environment.name}</strong>
        <span className="environment-actions">
          <button type="button" className="button small" data-testid="environment-edit" onClick={onEdit}>
            {editing ? "Close" : "Edit"}
          </button>
          <button
            type="button"
            className="button small"
            data-testid="environment-rebuild"
            title="The next task runs the setup script again instead of restoring the snapshot"
            onClick={onRebuild}
          >
            Rebuild snapshot
          </button>
          <button type="button" className="button small" data-testid="environment-delete" onClick={onDelete}>
            Delete
          </button>
        </span>
      </div>
      {environment.description ? <div className="muted">{environment.description}</div> : null}
      <div className="environment-meta muted" data-testid="environment-meta">
        setup network: {describe(environment.network.setup)} · agent network: {describe(environment.network.agent)} ·{" "}
        {variableCount} variable{variableCount === 1 ? "" : "s"}
        {environment.setup_script ? " · setup script" : ""}
        {environment.model ? ` · model ${environment.model}` : ""}
        {environment.model_credentials
          ? ` · own credentials (${environment.model_credentials.kind} ${environment.model_credentials.hint})`
          : ""}
        {servers.length > 0 ? ` · MCP: ${servers.join(", ")}` : ""}
        {environment.warm_pool > 0 ? (
          <span data-testid="environment-warm-pool"> · warm pool of {environment.warm_pool}</span>
        ) : null}
      </div>
      {defaultOf.length > 0 ? (
        <div className="muted" data-testid="environment-default-of">
          default of {defaultOf.map((repository) => repository.name).join(", ")}
        </div>
      ) : null}
      {environment.secrets.length > 0 ? (
        <ul className="environment-secrets">
          {environment.secrets.map((secret) => (
            <li key={secret.name} data-testid="environment-secret">
              <code>{secret.name}</code> <span className="muted">{secret.hint}</span>
              {secret.setup_only ? <span className="muted"> (setup only)</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
      {editing ? <EnvironmentForm existing={environment} onDone={onSaved} onCancel={onEdit} /> : null}
    </li>
  );
}
