import { type FormEvent, useCallback, useEffect, useId, useState } from "react";
import { api } from "../api/client.ts";
import type { CreateEnvironmentBody, Environment, NetworkLevel, NetworkPolicy } from "../api/types.ts";

const LEVELS: NetworkLevel[] = ["none", "trusted", "custom", "full"];

/** `NAME=value` lines into a record; blank lines skipped, a line without `=` is an error. */
function parsePairs(text: string, what: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    const at = raw.indexOf("=");
    if (at <= 0) throw new Error(`${what}: each line is NAME=value ("${raw.trim().slice(0, 40)}")`);
    pairs[raw.slice(0, at).trim()] = raw.slice(at + 1);
  }
  return pairs;
}

function policy(level: NetworkLevel, hosts: string): NetworkPolicy {
  if (level !== "custom") return { level };
  return { level, hosts: hosts.split(/[\s,]+/).filter(Boolean) };
}

function describe(network: NetworkPolicy): string {
  return network.level === "custom" ? `custom (${network.hosts?.join(", ") ?? ""})` : network.level;
}

/** Lists environments; creates and deletes them. The server validates and its message is shown. */
export function EnvironmentsPage() {
  const [environments, setEnvironments] = useState<Environment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api
      .listEnvironments()
      .then((body) => setEnvironments(body.environments))
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "could not list environments"));
  }, []);
  useEffect(load, [load]);

  async function remove(environment: Environment) {
    if (!window.confirm(`Delete the environment “${environment.name}”?`)) return;
    try {
      await api.deleteEnvironment(environment.id);
      setError(null);
      load();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "could not delete the environment");
    }
  }

  return (
    <div className="page narrow">
      <section className="card" aria-labelledby="environments-title">
        <h1 id="environments-title" className="card-title">
          Environments
        </h1>
        {error ? (
          <div className="alert alert-danger" role="alert">
            {error}
          </div>
        ) : null}
        {environments === null ? (
          <p className="muted">Loading…</p>
        ) : environments.length === 0 ? (
          <p className="muted" data-testid="environments-empty">
            No environments yet.
          </p>
        ) : (
          <ul className="environment-list" data-testid="environment-list">
            {environments.map((environment) => (
              <li key={environment.id} className="environment-row" data-testid="environment-row">
                <div className="environment-head">
                  <strong data-testid="environment-name">{environment.name}</strong>
                  <button
                    type="button"
                    className="button small"
                    data-testid="environment-delete"
                    onClick={() => void remove(environment)}
                  >
                    Delete
                  </button>
                </div>
                {environment.description ? <div className="muted">{environment.description}</div> : null}
                <div className="environment-meta muted">
                  setup network: {describe(environment.network.setup)} · agent network:{" "}
                  {describe(environment.network.agent)} · {Object.keys(environment.variables).length} variables
                  {environment.setup_script ? " · setup script" : ""}
                </div>
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
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="new-environment-title">
        <h2 id="new-environment-title" className="card-title">
          New environment
        </h2>
        <EnvironmentForm onCreated={load} />
      </section>
    </div>
  );
}

function EnvironmentForm({ onCreated }: { onCreated: () => void }) {
  const id = useId();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [script, setScript] = useState("");
  const [setupLevel, setSetupLevel] = useState<NetworkLevel>("trusted");
  const [setupHosts, setSetupHosts] = useState("");
  const [agentLevel, setAgentLevel] = useState<NetworkLevel>("none");
  const [agentHosts, setAgentHosts] = useState("");
  const [variables, setVariables] = useState("");
  const [secrets, setSecrets] = useState("");
  const [secretsSetupOnly, setSecretsSetupOnly] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (submitting) return;
    setError(null);
    let body: CreateEnvironmentBody;
    try {
      body = {
        name: name.trim(),
        network: { setup: policy(setupLevel, setupHosts), agent: policy(agentLevel, agentHosts) },
      };
      if (description.trim()) body.description = description.trim();
      if (script.trim()) body.setup_script = script;
      const vars = parsePairs(variables, "Variables");
      if (Object.keys(vars).length) body.variables = vars;
      const secretValues = parsePairs(secrets, "Secrets");
      if (Object.keys(secretValues).length) {
        body.secrets = Object.fromEntries(
          Object.entries(secretValues).map(([key, value]) => [key, { value, setup_only: secretsSetupOnly }]),
        );
      }
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "invalid input");
      return;
    }
    setSubmitting(true);
    try {
      await api.createEnvironment(body);
      setName("");
      setDescription("");
      setScript("");
      setVariables("");
      setSecrets("");
      onCreated();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "could not create the environment");
    } finally {
      setSubmitting(false);
    }
  }

  const level = (
    label: string,
    value: NetworkLevel,
    set: (level: NetworkLevel) => void,
    hosts: string,
    setHosts: (hosts: string) => void,
    key: string,
  ) => (
    <div className="field">
      <label htmlFor={`${id}-${key}-level`}>{label}</label>
      <select
        id={`${id}-${key}-level`}
        className="input"
        data-testid={`environment-${key}-network`}
        value={value}
        onChange={(event) => set(event.target.value as NetworkLevel)}
      >
        {LEVELS.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
      {value === "custom" ? (
        <input
          className="input"
          aria-label={`${label}: hosts`}
          data-testid={`environment-${key}-hosts`}
          placeholder="registry.npmjs.org, *.example.com"
          value={hosts}
          onChange={(event) => setHosts(event.target.value)}
        />
      ) : null}
    </div>
  );

  return (
    <form className="environment-form" onSubmit={submit} noValidate data-testid="environment-form">
      <div className="form-grid">
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            className="input"
            data-testid="environment-name-input"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-description`}>Description</label>
          <input
            id={`${id}-description`}
            className="input"
            data-testid="environment-description-input"
            value={description}
            placeholder="optional"
            onChange={(event) => setDescription(event.target.value)}
          />
        </div>
        {level("Setup network", setupLevel, setSetupLevel, setupHosts, setSetupHosts, "setup")}
        {level("Agent network", agentLevel, setAgentLevel, agentHosts, setAgentHosts, "agent")}
      </div>
      <div className="field">
        <label htmlFor={`${id}-script`}>Setup script</label>
        <textarea
          id={`${id}-script`}
          className="input mono"
          data-testid="environment-script-input"
          rows={5}
          value={script}
          placeholder="npm ci"
          onChange={(event) => setScript(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-variables`}>Variables (NAME=value, one a line)</label>
        <textarea
          id={`${id}-variables`}
          className="input mono"
          data-testid="environment-variables-input"
          rows={3}
          value={variables}
          onChange={(event) => setVariables(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-secrets`}>Secrets (NAME=value, one a line; never shown again)</label>
        <textarea
          id={`${id}-secrets`}
          className="input mono"
          data-testid="environment-secrets-input"
          rows={2}
          autoComplete="off"
          value={secrets}
          onChange={(event) => setSecrets(event.target.value)}
        />
        <label className="checkbox">
          <input
            type="checkbox"
            data-testid="environment-secrets-setup-only"
            checked={secretsSetupOnly}
            onChange={(event) => setSecretsSetupOnly(event.target.checked)}
          />{" "}
          setup script only (the agent never sees them)
        </label>
      </div>
      {error ? (
        <div className="alert alert-danger" role="alert" data-testid="environment-error">
          {error}
        </div>
      ) : null}
      <div className="form-actions">
        <span />
        <button type="submit" className="button primary" data-testid="environment-submit" disabled={submitting}>
          {submitting ? "Creating…" : "Create environment"}
        </button>
      </div>
    </form>
  );
}
