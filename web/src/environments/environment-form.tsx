import { useId, useState } from "react";
import { api } from "../api/client.ts";
import { type Environment, MAX_WARM_POOL, type NetworkLevel } from "../api/types.ts";
import { useFormSubmit } from "../components/use-form-submit.ts";
import {
  type CredentialsAction,
  createBody,
  type EnvironmentFormState,
  initialFormState,
  patchBody,
  type SecretAction,
} from "./environment-form-state.ts";

const LEVELS: NetworkLevel[] = ["none", "trusted", "custom", "full"];
const CREDENTIALS: { value: CredentialsAction; label: string }[] = [
  { value: "api_key", label: "Anthropic API key" },
  { value: "auth_token", label: "Gateway token + base URL" },
  { value: "oauth_token", label: "Claude subscription token" },
];

/**
 * Creates an environment, or edits one (`existing`): a PATCH of only what changed. Secrets and
 * model credentials are write-only — shown as hints, each kept, replaced or removed.
 */
export function EnvironmentForm({
  existing,
  onDone,
  onCancel,
}: {
  existing?: Environment;
  onDone: () => void;
  onCancel?: () => void;
}) {
  const id = useId();
  const [state, setState] = useState<EnvironmentFormState>(() => initialFormState(existing));
  const set = <K extends keyof EnvironmentFormState>(key: K, value: EnvironmentFormState[K]) =>
    setState((current) => ({ ...current, [key]: value }));
  const setSecret = (name: string, change: { action?: SecretAction; value?: string; setupOnly?: boolean }) =>
    setState((current) => ({
      ...current,
      secrets: current.secrets.map((secret) => (secret.name === name ? { ...secret, ...change } : secret)),
    }));
  const testId = (name: string) => `environment-${name}`;

  const { submit, submitting, error } = useFormSubmit(async () => {
    if (existing) {
      const patch = patchBody(existing, state);
      if (Object.keys(patch).length === 0) throw new Error("Nothing changed.");
      await api.updateEnvironment(existing.id, patch);
    } else {
      await api.createEnvironment(createBody(state));
      setState(initialFormState());
    }
    onDone();
  }, "could not save the environment");

  const level = (label: string, phase: "setup" | "agent") => {
    const levelKey = phase === "setup" ? "setupLevel" : "agentLevel";
    const hostsKey = phase === "setup" ? "setupHosts" : "agentHosts";
    return (
      <div className="field">
        <label htmlFor={`${id}-${phase}-level`}>{label}</label>
        <select
          id={`${id}-${phase}-level`}
          className="input"
          data-testid={testId(`${phase}-network`)}
          value={state[levelKey]}
          onChange={(event) => set(levelKey, event.target.value as NetworkLevel)}
        >
          {LEVELS.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
        {state[levelKey] === "custom" ? (
          <input
            className="input"
            aria-label={`${label}: hosts`}
            data-testid={testId(`${phase}-hosts`)}
            placeholder="registry.npmjs.org, *.example.com"
            value={state[hostsKey]}
            onChange={(event) => set(hostsKey, event.target.value)}
          />
        ) : null}
      </div>
    );
  };

  const text = (key: "name" | "description" | "model" | "warmPool", label: string, placeholder?: string) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        className="input"
        data-testid={testId(`${key === "warmPool" ? "warm-pool" : key}-input`)}
        {...(key === "warmPool" ? { type: "number", min: 0, max: MAX_WARM_POOL, step: 1 } : {})}
        value={state[key]}
        placeholder={placeholder}
        onChange={(event) => set(key, event.target.value)}
      />
    </div>
  );

  const area = (
    key: "script" | "variables" | "newSecrets" | "mcpServers",
    label: string,
    rows: number,
    placeholder?: string,
  ) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <textarea
        id={`${id}-${key}`}
        className="input mono"
        data-testid={testId(`${key === "newSecrets" ? "secrets" : key === "mcpServers" ? "mcp" : key}-input`)}
        rows={rows}
        autoComplete="off"
        value={state[key]}
        placeholder={placeholder}
        onChange={(event) => set(key, event.target.value)}
      />
    </div>
  );

  const current = existing?.model_credentials;
  return (
    <form
      className="environment-form"
      onSubmit={submit}
      noValidate
      data-testid={testId(existing ? "edit-form" : "form")}
    >
      <div className="form-grid">
        {text("name", "Name")}
        {text("description", "Description", "optional")}
        {level("Setup network", "setup")}
        {level("Agent network", "agent")}
      </div>
      {area("script", "Setup script", 5, "npm ci")}
      {area("variables", "Variables (NAME=value, one a line)", 3)}
      {state.secrets.length > 0 ? (
        <fieldset className="field environment-secret-edits">
          <legend>Secrets (write-only)</legend>
          {state.secrets.map((secret) => (
            <div
              key={secret.name}
              className="secret-edit"
              data-testid="environment-secret-edit"
              data-name={secret.name}
            >
              <code>{secret.name}</code> <span className="muted">{secret.hint}</span>
              <select
                className="input"
                aria-label={`Secret ${secret.name}`}
                data-testid="environment-secret-action"
                value={secret.action}
                onChange={(event) => setSecret(secret.name, { action: event.target.value as SecretAction })}
              >
                <option value="keep">keep{secret.setupOnly ? " (setup only)" : ""}</option>
                <option value="replace">replace</option>
                <option value="remove">remove</option>
              </select>
              {secret.action === "replace" ? (
                <>
                  <input
                    className="input mono"
                    type="password"
                    autoComplete="off"
                    aria-label={`New value of ${secret.name}`}
                    data-testid="environment-secret-value"
                    value={secret.value}
                    onChange={(event) => setSecret(secret.name, { value: event.target.value })}
                  />
                  <label className="checkbox">
                    <input
                      type="checkbox"
                      checked={secret.setupOnly}
                      onChange={(event) => setSecret(secret.name, { setupOnly: event.target.checked })}
                    />{" "}
                    setup only
                  </label>
                </>
              ) : null}
            </div>
          ))}
        </fieldset>
      ) : null}
      {area("newSecrets", `${existing ? "New secrets" : "Secrets"} (NAME=value, one a line; never shown again)`, 2)}
      <label className="checkbox">
        <input
          type="checkbox"
          data-testid={testId("secrets-setup-only")}
          checked={state.newSecretsSetupOnly}
          onChange={(event) => set("newSecretsSetupOnly", event.target.checked)}
        />{" "}
        setup script only (the agent never sees them)
      </label>
      <div className="form-grid">
        {text("model", "Model", "the server's default")}
        {text("warmPool", `Warm pool (sandboxes kept started for tasks without a repository, 0–${MAX_WARM_POOL})`)}
        <div className="field">
          <label htmlFor={`${id}-credentials`}>Model credentials</label>
          <select
            id={`${id}-credentials`}
            className="input"
            data-testid={testId("credentials")}
            value={state.credentials}
            onChange={(event) => set("credentials", event.target.value as CredentialsAction)}
          >
            {current ? <option value="keep">keep ({`${current.kind} ${current.hint}`})</option> : null}
            <option value="remove">{current ? "remove: use the server's" : "the server's"}</option>
            {CREDENTIALS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
          {state.credentials !== "keep" && state.credentials !== "remove" ? (
            <input
              className="input mono"
              type="password"
              autoComplete="off"
              aria-label="Credential value"
              data-testid={testId("credential-value")}
              value={state.credentialValue}
              onChange={(event) => set("credentialValue", event.target.value)}
            />
          ) : null}
          {state.credentials === "auth_token" ? (
            <input
              className="input"
              aria-label="Gateway base URL"
              data-testid={testId("credential-base-url")}
              placeholder="https://gateway.example.com"
              value={state.credentialBaseUrl}
              onChange={(event) => set("credentialBaseUrl", event.target.value)}
            />
          ) : null}
        </div>
      </div>
      {area(
        "mcpServers",
        `MCP servers (JSON by name; a remote one may carry "headers"; $${"{"}NAME} refers to a variable or secret)`,
        3,
        `{"docs": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer \${MCP_TOKEN}"}}}`,
      )}
      {error ? (
        <div className="alert alert-danger" role="alert" data-testid={testId("error")}>
          {error}
        </div>
      ) : null}
      <div className="form-actions">
        {onCancel ? (
          <button type="button" className="button" data-testid={testId("cancel")} onClick={onCancel}>
            Cancel
          </button>
        ) : (
          <span />
        )}
        <button
          type="submit"
          className="button primary"
          data-testid={testId(existing ? "save" : "submit")}
          disabled={submitting}
        >
          {submitting ? "Saving…" : existing ? "Save changes" : "Create environment"}
        </button>
      </div>
    </form>
  );
}
