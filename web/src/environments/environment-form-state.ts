import {
  type CreateEnvironmentBody,
  type Environment,
  MAX_WARM_POOL,
  type NetworkLevel,
  type NetworkPolicy,
  type PatchEnvironmentBody,
} from "../api/types.ts";

/*
 * The environment form's state and what it sends: a create body, or for an edit a PATCH of
 * only what changed. Secrets and model credentials are write-only: the form never holds their
 * values, only what to do with each (keep, replace with a new value, remove).
 */

export type SecretAction = "keep" | "replace" | "remove";
export type CredentialsAction = "keep" | "remove" | "api_key" | "auth_token" | "oauth_token";

export interface SecretEdit {
  name: string;
  hint: string;
  setupOnly: boolean;
  action: SecretAction;
  value: string;
}

export interface EnvironmentFormState {
  name: string;
  description: string;
  script: string;
  setupLevel: NetworkLevel;
  setupHosts: string;
  agentLevel: NetworkLevel;
  agentHosts: string;
  /** `NAME=value` lines. */
  variables: string;
  /** The environment's secrets (edit only): what to do with each. */
  secrets: SecretEdit[];
  /** New secrets, `NAME=value` lines. */
  newSecrets: string;
  newSecretsSetupOnly: boolean;
  model: string;
  credentials: CredentialsAction;
  credentialValue: string;
  credentialBaseUrl: string;
  /** The MCP servers as JSON, by name. */
  mcpServers: string;
  /** Started sandboxes kept for the environment's tasks, as typed. */
  warmPool: string;
}

const hostsText = (policy: NetworkPolicy) => (policy.hosts ?? []).join(", ");

export function initialFormState(existing?: Environment): EnvironmentFormState {
  return {
    name: existing?.name ?? "",
    description: existing?.description ?? "",
    script: existing?.setup_script ?? "",
    setupLevel: existing?.network.setup.level ?? "trusted",
    setupHosts: existing ? hostsText(existing.network.setup) : "",
    agentLevel: existing?.network.agent.level ?? "none",
    agentHosts: existing ? hostsText(existing.network.agent) : "",
    variables: Object.entries(existing?.variables ?? {})
      .map(([name, value]) => `${name}=${value}`)
      .join("\n"),
    secrets: (existing?.secrets ?? []).map((secret) => ({
      name: secret.name,
      hint: secret.hint,
      setupOnly: secret.setup_only,
      action: "keep",
      value: "",
    })),
    newSecrets: "",
    newSecretsSetupOnly: false,
    model: existing?.model ?? "",
    credentials: existing?.model_credentials ? "keep" : "remove",
    credentialValue: "",
    credentialBaseUrl: existing?.model_credentials?.base_url ?? "",
    mcpServers:
      existing && Object.keys(existing.mcp_servers).length > 0 ? JSON.stringify(existing.mcp_servers, null, 2) : "",
    warmPool: String(existing?.warm_pool ?? 0),
  };
}

function warmPool(text: string): number {
  const value = Number(text.trim() || "0");
  if (!Number.isInteger(value) || value < 0 || value > MAX_WARM_POOL) {
    throw new Error(`Warm pool: a whole number from 0 to ${MAX_WARM_POOL}`);
  }
  return value;
}

/** `NAME=value` lines into a record; blank lines skipped, a line without `=` is an error. */
export function parsePairs(text: string, what: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    const at = raw.indexOf("=");
    if (at <= 0) throw new Error(`${what}: each line is NAME=value ("${raw.trim().slice(0, 40)}")`);
    pairs[raw.slice(0, at).trim()] = raw.slice(at + 1);
  }
  return pairs;
}

export function policy(level: NetworkLevel, hosts: string): NetworkPolicy {
  if (level !== "custom") return { level };
  return { level, hosts: hosts.split(/[\s,]+/).filter(Boolean) };
}

function mcpServers(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('MCP servers: not JSON — give an object by name, e.g. {"docs": {"type": "http", "url": "…"}}');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("MCP servers: give an object, each server by its name");
  }
  return parsed as Record<string, unknown>;
}

function credentials(state: EnvironmentFormState): CreateEnvironmentBody["model_credentials"] | null | undefined {
  const value = state.credentialValue;
  switch (state.credentials) {
    case "keep":
      return undefined;
    case "remove":
      return null;
    case "api_key":
      if (!value) throw new Error("Model credentials: enter the API key");
      return { kind: "api_key", api_key: value };
    case "oauth_token":
      if (!value) throw new Error("Model credentials: enter the subscription token");
      return { kind: "oauth_token", oauth_token: value };
    case "auth_token":
      if (!value || !state.credentialBaseUrl.trim()) {
        throw new Error("Model credentials: a gateway needs its token and its base URL");
      }
      return { kind: "auth_token", auth_token: value, base_url: state.credentialBaseUrl.trim() };
  }
}

function newSecrets(state: EnvironmentFormState) {
  return Object.fromEntries(
    Object.entries(parsePairs(state.newSecrets, "New secrets")).map(([name, value]) => [
      name,
      { value, setup_only: state.newSecretsSetupOnly },
    ]),
  );
}

/** A new environment's body. Throws an Error saying what to fix. */
export function createBody(state: EnvironmentFormState): CreateEnvironmentBody {
  const body: CreateEnvironmentBody = {
    name: state.name.trim(),
    network: { setup: policy(state.setupLevel, state.setupHosts), agent: policy(state.agentLevel, state.agentHosts) },
  };
  if (state.description.trim()) body.description = state.description.trim();
  if (state.script.trim()) body.setup_script = state.script;
  const variables = parsePairs(state.variables, "Variables");
  if (Object.keys(variables).length) body.variables = variables;
  const secrets = newSecrets(state);
  if (Object.keys(secrets).length) body.secrets = secrets;
  if (state.model.trim()) body.model = state.model.trim();
  const modelCredentials = credentials(state);
  if (modelCredentials) body.model_credentials = modelCredentials;
  const servers = mcpServers(state.mcpServers);
  if (Object.keys(servers).length) body.mcp_servers = servers as CreateEnvironmentBody["mcp_servers"];
  const pool = warmPool(state.warmPool);
  if (pool > 0) body.warm_pool = pool;
  return body;
}

const samePolicy = (a: NetworkPolicy, b: NetworkPolicy) =>
  a.level === b.level && (a.hosts ?? []).join(",") === (b.hosts ?? []).join(",");

/** A PATCH of what the form changed in `existing`; empty when nothing did. Throws what to fix. */
export function patchBody(existing: Environment, state: EnvironmentFormState): PatchEnvironmentBody {
  const patch: PatchEnvironmentBody = {};
  if (state.name.trim() !== existing.name) patch.name = state.name.trim();
  const description = state.description.trim() || null;
  if (description !== existing.description) patch.description = description;
  const script = state.script.trim() ? state.script : null;
  if (script !== existing.setup_script) patch.setup_script = script;
  const setup = policy(state.setupLevel, state.setupHosts);
  const agent = policy(state.agentLevel, state.agentHosts);
  if (!samePolicy(setup, existing.network.setup) || !samePolicy(agent, existing.network.agent)) {
    patch.network = { setup, agent };
  }
  const variables = parsePairs(state.variables, "Variables");
  const variableChanges: Record<string, string | null> = {};
  for (const name of Object.keys(existing.variables)) if (!(name in variables)) variableChanges[name] = null;
  for (const [name, value] of Object.entries(variables)) {
    if (existing.variables[name] !== value) variableChanges[name] = value;
  }
  if (Object.keys(variableChanges).length) patch.variables = variableChanges;
  const secretChanges: NonNullable<PatchEnvironmentBody["secrets"]> = {};
  for (const secret of state.secrets) {
    if (secret.action === "remove") secretChanges[secret.name] = null;
    if (secret.action === "replace") {
      if (!secret.value) throw new Error(`Secret ${secret.name}: enter the new value, or keep it`);
      secretChanges[secret.name] = { value: secret.value, setup_only: secret.setupOnly };
    }
  }
  Object.assign(secretChanges, newSecrets(state));
  if (Object.keys(secretChanges).length) patch.secrets = secretChanges;
  const model = state.model.trim() || null;
  if (model !== existing.model) patch.model = model;
  const modelCredentials = credentials(state);
  if (modelCredentials !== undefined && !(modelCredentials === null && existing.model_credentials === null)) {
    patch.model_credentials = modelCredentials;
  }
  const servers = mcpServers(state.mcpServers);
  if (JSON.stringify(servers) !== JSON.stringify(existing.mcp_servers)) {
    patch.mcp_servers = (Object.keys(servers).length ? servers : null) as PatchEnvironmentBody["mcp_servers"];
  }
  const pool = warmPool(state.warmPool);
  if (pool !== existing.warm_pool) patch.warm_pool = pool;
  return patch;
}
