import { type FormEvent, type KeyboardEvent, type ReactNode, useEffect, useId, useState } from "react";
import { api } from "../api/client.ts";
import { type CreateTaskBody, type Environment, PRIORITIES, type Priority, type Repository } from "../api/types.ts";
import { ModeSelect } from "../approvals/approval-cards.tsx";
import { RepoFields } from "../repo/repo-fields.tsx";
import { navigate } from "../route.ts";

const FIELDS = ["prompt", "title", "model", "max_budget_usd", "max_turns", "priority", "environment"] as const;
type FieldName = (typeof FIELDS)[number];

/** Which field the server's message names ("invalid task: max_budget_usd: …"), if any. */
function fieldOf(message: string): FieldName | null {
  return FIELDS.find((field) => new RegExp(`\\b${field}\\b`).test(message)) ?? null;
}

function optionalNumber(value: string): number | undefined {
  if (value.trim() === "") return undefined;
  return Number(value);
}

export function NewTaskPage() {
  return (
    <div className="page narrow">
      <section className="card" aria-labelledby="new-task-title">
        <h1 id="new-task-title" className="card-title">
          New task
        </h1>
        <NewTaskForm autoFocus />
      </section>
    </div>
  );
}

/** Creates a task and opens its session. The server validates; its message is shown as is. */
export function NewTaskForm({ compact = false, autoFocus = false }: { compact?: boolean; autoFocus?: boolean }) {
  const id = useId();
  const [prompt, setPrompt] = useState("");
  const [title, setTitle] = useState("");
  const [model, setModel] = useState("");
  const [budget, setBudget] = useState("");
  const [maxTurns, setMaxTurns] = useState("");
  const [priority, setPriority] = useState<Priority>("MEDIUM");
  const [mode, setMode] = useState("bypassPermissions");
  const [repo, setRepo] = useState({ repo: "", baseBranch: "", branch: "" });
  const [environment, setEnvironment] = useState("");
  const { environments, repositories } = useEnvironments();
  // A registered repository's default environment applies when the task names none.
  const chosenRepo = repo.repo.trim();
  const registered = repositories.find((item) => item.name === chosenRepo || item.url === chosenRepo);
  const repoDefault = environments.find((item) => item.id === registered?.environment_id);
  const [showOptions, setShowOptions] = useState(!compact);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const badField = error ? (fieldOf(error) ?? "prompt") : null;
  const invalid = (field: FieldName) =>
    badField === field ? { "aria-invalid": true, "aria-describedby": `${id}-error` } : {};

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (submitting) return;
    const body: CreateTaskBody = { prompt, priority, permission_mode: mode as CreateTaskBody["permission_mode"] };
    if (title.trim()) body.title = title.trim();
    if (model.trim()) body.model = model.trim();
    const budgetValue = optionalNumber(budget);
    if (budgetValue !== undefined) body.max_budget_usd = budgetValue;
    if (repo.repo.trim()) body.repo = repo.repo.trim();
    if (repo.repo.trim() && repo.baseBranch.trim()) body.base_branch = repo.baseBranch.trim();
    if (repo.repo.trim() && repo.branch.trim()) body.branch = repo.branch.trim();
    if (environment) body.environment = environment;
    const turnsValue = optionalNumber(maxTurns);
    if (turnsValue !== undefined) body.max_turns = turnsValue;
    setSubmitting(true);
    setError(null);
    try {
      const task = await api.createTask(body);
      navigate(`#/tasks/${task.id}`);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "could not create the task");
      setSubmitting(false);
    }
  }

  function onPromptKey(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) {
      event.preventDefault();
      void submit();
    }
  }

  return (
    <form className="new-task-form" onSubmit={submit} noValidate data-testid="new-task-form">
      <label className="sr-only" htmlFor={`${id}-prompt`}>
        Prompt
      </label>
      <textarea
        id={`${id}-prompt`}
        className="input prompt-input"
        data-testid="new-task-prompt"
        placeholder="Describe the task — e.g. “Add a --json flag to the CLI and test it”"
        value={prompt}
        rows={compact ? 3 : 6}
        // biome-ignore lint/a11y/noAutofocus: only where the person just asked for a new task.
        autoFocus={autoFocus}
        {...invalid("prompt")}
        onChange={(event) => setPrompt(event.target.value)}
        onKeyDown={onPromptKey}
      />
      {showOptions ? (
        <div className="form-grid">
          <RepoFields value={repo} onChange={setRepo} />
          <Field label="Environment" htmlFor={`${id}-environment`}>
            <select
              id={`${id}-environment`}
              className="input"
              data-testid="new-task-environment"
              {...invalid("environment")}
              value={environment}
              onChange={(event) => setEnvironment(event.target.value)}
            >
              <option value="" data-testid="new-task-environment-default">
                {repoDefault && registered ? `${registered.name}'s default: ${repoDefault.name}` : "none"}
              </option>
              {environments.map((item) => (
                <option key={item.id} value={item.name}>
                  {item.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Title" htmlFor={`${id}-title`}>
            <input
              id={`${id}-title`}
              className="input"
              data-testid="new-task-title"
              {...invalid("title")}
              value={title}
              placeholder="optional"
              onChange={(event) => setTitle(event.target.value)}
            />
          </Field>
          <Field label="Model" htmlFor={`${id}-model`}>
            <input
              id={`${id}-model`}
              className="input"
              data-testid="new-task-model"
              {...invalid("model")}
              value={model}
              placeholder="server default"
              onChange={(event) => setModel(event.target.value)}
            />
          </Field>
          <Field label="Max budget (USD)" htmlFor={`${id}-budget`}>
            <input
              id={`${id}-budget`}
              className="input"
              data-testid="new-task-budget"
              {...invalid("max_budget_usd")}
              type="number"
              inputMode="decimal"
              step="0.01"
              value={budget}
              placeholder="no limit"
              onChange={(event) => setBudget(event.target.value)}
            />
          </Field>
          <Field label="Max turns" htmlFor={`${id}-turns`}>
            <input
              id={`${id}-turns`}
              className="input"
              data-testid="new-task-max-turns"
              {...invalid("max_turns")}
              type="number"
              inputMode="numeric"
              step="1"
              value={maxTurns}
              placeholder="no limit"
              onChange={(event) => setMaxTurns(event.target.value)}
            />
          </Field>
          <Field label="Priority" htmlFor={`${id}-priority`}>
            <select
              id={`${id}-priority`}
              className="input"
              data-testid="new-task-priority"
              {...invalid("priority")}
              value={priority}
              onChange={(event) => setPriority(event.target.value as Priority)}
            >
              {PRIORITIES.map((value) => (
                <option key={value} value={value}>
                  {value.toLowerCase()}
                </option>
              ))}
            </select>
          </Field>
        </div>
      ) : null}
      {error ? (
        <div id={`${id}-error`} className="alert alert-danger" role="alert" data-testid="new-task-error">
          {error}
        </div>
      ) : null}
      <div className="form-actions">
        {compact ? (
          <button
            type="button"
            className="link-button"
            aria-expanded={showOptions}
            data-testid="new-task-options"
            onClick={() => setShowOptions((value) => !value)}
          >
            {showOptions ? "Fewer options" : "More options"}
          </button>
        ) : (
          <span />
        )}
        <ModeSelect testId="new-task-mode" value={mode} onChange={setMode} />
        <span className="hint muted">Ctrl+Enter to start</span>
        <button type="submit" className="button primary" data-testid="new-task-submit" disabled={submitting}>
          {submitting ? "Starting…" : "Start task"}
        </button>
      </div>
    </form>
  );
}

/** The environments a task may run in, and the registered repositories (with their defaults). */
function useEnvironments(): { environments: Environment[]; repositories: Repository[] } {
  const [lists, setLists] = useState<{ environments: Environment[]; repositories: Repository[] }>({
    environments: [],
    repositories: [],
  });
  useEffect(() => {
    let live = true;
    void Promise.all([
      api.listEnvironments().catch(() => ({ environments: [] })),
      api.listRepositories().catch(() => ({ repositories: [] })),
    ]).then(([environments, repositories]) => {
      if (live) setLists({ environments: environments.environments, repositories: repositories.repositories });
    });
    return () => {
      live = false;
    };
  }, []);
  return lists;
}

function Field({ label, htmlFor, children }: { label: string; htmlFor: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={htmlFor}>{label}</label>
      {children}
    </div>
  );
}
