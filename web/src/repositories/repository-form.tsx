import { useId, useState } from "react";
import { api } from "../api/client.ts";
import type { Environment, Repository } from "../api/types.ts";
import { useFormSubmit } from "../components/use-form-submit.ts";
import {
  CREDENTIAL_CHOICES,
  editBody,
  editCredentialChoices,
  editRepositoryForm,
  initialRepositoryForm,
  type RepositoryFormState,
  registerBody,
  withoutSecrets,
} from "./repository-form-state.ts";

type TextKey = Exclude<keyof RepositoryFormState, "credential">;

/**
 * Registers a repository, or (given `editing`) edits one: its name, URL, forge API, a new
 * credential in place of the stored one, or none at all. The server tries a new credential or URL before it
 * keeps anything and says why when it cannot (refused, unreachable, a name taken); that message
 * is shown here. Secrets are password fields, emptied once the server has them.
 */
export function RepositoryForm({
  environments,
  onDone,
  editing,
  onCancel,
}: {
  environments: Environment[];
  onDone: (repository: Repository) => void;
  editing?: Repository;
  onCancel?: () => void;
}) {
  const id = useId();
  const [state, setState] = useState<RepositoryFormState>(() =>
    editing ? editRepositoryForm(editing) : initialRepositoryForm(),
  );
  const set = <K extends keyof RepositoryFormState>(key: K, value: RepositoryFormState[K]) =>
    setState((current) => ({ ...current, [key]: value }));

  const { submit, submitting, error } = useFormSubmit(
    async () => {
      if (editing) {
        try {
          onDone(await api.updateRepository(editing.id, editBody(state, editing)));
        } finally {
          setState(withoutSecrets);
        }
        return;
      }
      const repository = await api.registerRepository(registerBody(state));
      setState(initialRepositoryForm());
      onDone(repository);
    },
    editing ? "could not save the repository" : "could not register the repository",
  );
  const usesApi =
    state.credential === "token" ||
    state.credential === "github_app" ||
    (state.credential === "keep" &&
      (editing?.credential_kind === "token" || editing?.credential_kind === "github_app"));

  const field = (
    key: TextKey,
    label: string,
    options: { placeholder?: string; secret?: boolean; wide?: boolean } = {},
  ) => (
    <div className={options.wide ? "field field-wide" : "field"}>
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        className={options.secret ? "input mono" : "input"}
        data-testid={`repository-${key}-input`}
        type={options.secret ? "password" : "text"}
        autoComplete={options.secret ? "new-password" : "off"}
        spellCheck={false}
        value={state[key]}
        placeholder={options.placeholder}
        onChange={(event) => set(key, event.target.value)}
      />
    </div>
  );

  return (
    <form
      className="repository-form"
      onSubmit={submit}
      noValidate
      data-testid={editing ? "repository-edit-form" : "repository-form"}
    >
      <div className="form-grid">
        {field("url", "Clone URL", { placeholder: "https://github.com/acme/project.git", wide: true })}
        {field("name", "Name", { placeholder: editing ? undefined : "from the URL" })}
        {editing ? null : (
          <div className="field">
            <label htmlFor={`${id}-environment`}>Default environment</label>
            <select
              id={`${id}-environment`}
              className="input"
              data-testid="repository-environment-input"
              value={state.environment}
              onChange={(event) => set("environment", event.target.value)}
            >
              <option value="">none</option>
              {environments.map((environment) => (
                <option key={environment.id} value={environment.id}>
                  {environment.name}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor={`${id}-credential`}>
            {editing ? "Credential (the current one is never shown)" : "Credential"}
          </label>
          <select
            id={`${id}-credential`}
            className="input"
            data-testid="repository-credential"
            value={state.credential}
            onChange={(event) =>
              setState((current) => ({
                ...withoutSecrets(current),
                credential: event.target.value as RepositoryFormState["credential"],
              }))
            }
          >
            {(editing ? editCredentialChoices(editing) : CREDENTIAL_CHOICES).map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </div>
        {state.credential === "token" ? (
          <>
            {field("token", "Token (never shown again)", { secret: true })}
            {field("tokenUsername", "Sent as user", { placeholder: "x-access-token" })}
          </>
        ) : null}
        {state.credential === "basic" ? (
          <>
            {field("username", "Username")}
            {field("password", "Password (never shown again)", { secret: true })}
          </>
        ) : null}
        {state.credential === "github_app" ? (
          <>
            {field("appId", "App id")}
            {field("installationId", "Installation id")}
          </>
        ) : null}
      </div>
      {state.credential === "github_app" ? (
        <div className="field">
          <label htmlFor={`${id}-privateKey`}>Private key (PEM; never shown again)</label>
          {/* A textarea keeps the key's lines; it is emptied once the server has it. */}
          <textarea
            id={`${id}-privateKey`}
            className="input mono secret-text"
            data-testid="repository-privateKey-input"
            rows={4}
            autoComplete="off"
            spellCheck={false}
            value={state.privateKey}
            placeholder="-----BEGIN RSA PRIVATE KEY-----"
            onChange={(event) => set("privateKey", event.target.value)}
          />
        </div>
      ) : null}
      {usesApi ? (
        <div className="form-grid">
          {field("apiBaseUrl", "Forge API (GitHub Enterprise)", {
            placeholder: "https://ghe.example.com/api/v3 — empty for github.com",
            wide: true,
          })}
        </div>
      ) : null}
      {error ? (
        <div className="alert alert-danger" role="alert" data-testid="repository-error">
          {error}
        </div>
      ) : null}
      <div className="form-actions">
        <span className="muted small">
          {editing
            ? state.credential === "none"
              ? "The remote is tried without a credential first; when it needs one, nothing changes."
              : "A new credential or URL is tried first; when refused, nothing changes."
            : "The server tries the credential before it keeps it."}
        </span>
        {onCancel ? (
          <button type="button" className="button" data-testid="repository-edit-cancel" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
        <button type="submit" className="button primary" data-testid="repository-submit" disabled={submitting}>
          {submitting ? "Checking…" : editing ? "Save changes" : "Register repository"}
        </button>
      </div>
    </form>
  );
}
