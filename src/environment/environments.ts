import { randomUUID } from "node:crypto";
import {
  type CreateEnvironmentBody,
  DEFAULT_NETWORK,
  type Environment,
  type ModelCredentialsInput,
  type PatchEnvironmentBody,
  secretHint,
} from "../protocol/environment.ts";
import { badRequest, conflict, notFound } from "../protocol/error.ts";
import type {
  EnvironmentRecord,
  EnvironmentSpec,
  EnvironmentStore,
} from "../store/environment-store.ts";
import type { Vault } from "../vault/vault.ts";
import { checkMcpServers } from "./mcp.ts";

/** What the vault holds for one environment. */
interface SealedValues {
  secrets: Record<string, string>;
  model_credentials: ModelCredentialsInput | null;
}

/** An environment with its secrets opened: only for launching a sandbox, never for a response. */
export interface ResolvedEnvironment {
  id: string;
  name: string;
  spec: EnvironmentSpec;
  secrets: Record<string, string>;
  modelCredentials: ModelCredentialsInput | null;
  /** The stored version: a warm sandbox prepared from another version is not used. */
  updatedAt?: number;
}

export const newEnvironmentId = () => `env_${randomUUID().replaceAll("-", "").slice(0, 20)}`;

/** An environment update lost a race this many times in a row: the caller gets a 409. */
const UPDATE_ATTEMPTS = 5;

/**
 * Environments as a resource: turns request bodies into stored records (secrets sealed,
 * hints in the clear) and records into what the API may show.
 */
export class Environments {
  constructor(
    private readonly store: EnvironmentStore,
    private readonly vault: Vault,
  ) {}

  async create(body: CreateEnvironmentBody): Promise<Environment> {
    const now = Date.now();
    const values: SealedValues = {
      secrets: Object.fromEntries(
        Object.entries(body.secrets ?? {}).map(([name, secret]) => [name, secret.value]),
      ),
      model_credentials: body.model_credentials ?? null,
    };
    const spec: EnvironmentSpec = {
      description: body.description ?? null,
      setup_script: body.setup_script ?? null,
      network: { ...DEFAULT_NETWORK, ...body.network },
      variables: body.variables ?? {},
      secrets: Object.entries(body.secrets ?? {}).map(([name, secret]) => ({
        name,
        setup_only: secret.setup_only,
        hint: secretHint(secret.value),
      })),
      model: body.model ?? null,
      model_credentials: credentialsView(values.model_credentials),
      mcp_servers: body.mcp_servers ?? {},
      warm_pool: body.warm_pool ?? 0,
    };
    checkSpec(spec, values);
    const record = await this.store.create({
      id: newEnvironmentId(),
      name: body.name,
      spec,
      sealed: this.seal(values),
      created_at: now,
      updated_at: now,
    });
    return toEnvironment(record);
  }

  async get(idOrName: string): Promise<Environment> {
    return toEnvironment(await this.record(idOrName));
  }

  async list(): Promise<Environment[]> {
    return (await this.store.list()).map(toEnvironment);
  }

  async update(idOrName: string, patch: PatchEnvironmentBody): Promise<Environment> {
    return this.modify(idOrName, (current, spec, values) => {
      checkRemovals(current, patch);
      if (patch.description !== undefined) spec.description = patch.description;
      if (patch.setup_script !== undefined) spec.setup_script = patch.setup_script;
      if (patch.network !== undefined) {
        // Each phase given replaces that phase; null resets both to the defaults.
        spec.network =
          patch.network === null ? DEFAULT_NETWORK : { ...spec.network, ...patch.network };
      }
      if (patch.model !== undefined) spec.model = patch.model;
      if (patch.mcp_servers !== undefined) spec.mcp_servers = patch.mcp_servers ?? {};
      if (patch.warm_pool !== undefined) spec.warm_pool = patch.warm_pool ?? 0;
      if (patch.variables) {
        const variables = { ...spec.variables };
        for (const [name, value] of Object.entries(patch.variables)) {
          if (value === null) delete variables[name];
          else variables[name] = value;
        }
        spec.variables = variables;
      }
      if (patch.secrets) {
        const kept = new Map(spec.secrets.map((secret) => [secret.name, secret]));
        for (const [name, secret] of Object.entries(patch.secrets)) {
          if (secret === null) {
            kept.delete(name);
            delete values.secrets[name];
          } else {
            kept.set(name, { name, setup_only: secret.setup_only, hint: secretHint(secret.value) });
            values.secrets[name] = secret.value;
          }
        }
        spec.secrets = [...kept.values()].sort((a, b) => a.name.localeCompare(b.name));
      }
      if (patch.model_credentials !== undefined) {
        values.model_credentials = patch.model_credentials;
        spec.model_credentials = credentialsView(patch.model_credentials);
      }
      return patch.name ?? current.name;
    });
  }

  /**
   * Asks for the setup snapshots to be rebuilt: the reset time is part of every snapshot's key,
   * so the next task runs the setup script again and keeps a new snapshot (the old ones are
   * evicted as least recently used). Works the same whichever machine keeps the snapshots.
   */
  async resetSnapshots(idOrName: string): Promise<Environment> {
    return this.modify(idOrName, (current, spec) => {
      spec.snapshots_reset_at = Math.max(Date.now(), (current.spec.snapshots_reset_at ?? 0) + 1);
      return current.name;
    });
  }

  /**
   * One change, applied to the version it read (`apply` edits the spec and values in place and
   * names the environment), retried on a fresh read when another writer got there first.
   */
  private async modify(
    idOrName: string,
    apply: (current: EnvironmentRecord, spec: EnvironmentSpec, values: SealedValues) => string,
  ): Promise<Environment> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const current = await this.record(idOrName);
      const values = this.open(current);
      const spec: EnvironmentSpec = { ...current.spec };
      const name = apply(current, spec, values);
      checkSpec(spec, values);
      const updated = await this.store.update(
        current.id,
        { name, spec, sealed: this.seal(values) },
        current.updated_at,
      );
      if (updated) return toEnvironment(updated);
    }
    throw conflict(`environment '${idOrName}' kept changing while it was updated; try again`);
  }

  async delete(idOrName: string): Promise<Environment> {
    const record = await this.record(idOrName);
    if (!(await this.store.delete(record.id))) throw notFound("environment", idOrName);
    return toEnvironment(record);
  }

  /** The environment with its secrets, for the sandbox that runs a task in it. */
  async resolve(idOrName: string): Promise<ResolvedEnvironment> {
    const record = await this.record(idOrName);
    const values = this.open(record);
    return {
      id: record.id,
      name: record.name,
      spec: withDefaults(record.spec),
      secrets: values.secrets,
      modelCredentials: values.model_credentials,
      updatedAt: record.updated_at,
    };
  }

  private async record(idOrName: string): Promise<EnvironmentRecord> {
    const record = await this.store.get(idOrName);
    if (!record) throw notFound("environment", idOrName);
    return record;
  }

  private seal(values: SealedValues): string | null {
    const empty = Object.keys(values.secrets).length === 0 && values.model_credentials === null;
    return empty ? null : this.vault.sealJson(values);
  }

  private open(record: EnvironmentRecord): SealedValues {
    if (record.sealed === null) return { secrets: {}, model_credentials: null };
    return this.vault.openJson(record.sealed) as SealedValues;
  }
}

/** Checks across fields, after a create or a patch is applied: nothing is stored when one fails. */
function checkSpec(spec: EnvironmentSpec, values: SealedValues) {
  const agentSecrets = spec.secrets.filter((secret) => !secret.setup_only);
  checkMcpServers(spec.mcp_servers, {
    agentNetwork: spec.network.agent,
    variables: Object.keys(spec.variables),
    secrets: spec.secrets,
    // What the agent's processes get, as the worker fills references in (`phaseVariables`).
    values: {
      ...spec.variables,
      ...Object.fromEntries(
        agentSecrets.flatMap((secret) =>
          Object.hasOwn(values.secrets, secret.name)
            ? [[secret.name, values.secrets[secret.name]]]
            : [],
        ),
      ),
    },
  });
}

function credentialsView(
  credentials: ModelCredentialsInput | null,
): Environment["model_credentials"] {
  if (!credentials) return null;
  switch (credentials.kind) {
    case "api_key":
      return { kind: "api_key", hint: secretHint(credentials.api_key) };
    case "auth_token":
      return {
        kind: "auth_token",
        hint: secretHint(credentials.auth_token),
        base_url: credentials.base_url,
      };
    case "oauth_token":
      return { kind: "oauth_token", hint: secretHint(credentials.oauth_token) };
  }
}

/** Fields added after an environment was stored get their defaults. */
function withDefaults(
  spec: EnvironmentSpec,
): EnvironmentSpec & { warm_pool: number; snapshots_reset_at: number | null } {
  return {
    ...spec,
    warm_pool: spec.warm_pool ?? 0,
    snapshots_reset_at: spec.snapshots_reset_at ?? null,
  };
}

function toEnvironment(record: EnvironmentRecord): Environment {
  return {
    id: record.id,
    name: record.name,
    ...withDefaults(record.spec),
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

/**
 * A name a patch deletes (`null` in `variables` or `secrets`) must be a variable or a secret
 * of the environment: removing a misspelt name would otherwise change nothing, silently.
 * Either kind will do, so a client may delete a name from both without knowing which it is.
 */
function checkRemovals(current: EnvironmentRecord, patch: PatchEnvironmentBody): void {
  const known = new Set([
    ...Object.keys(current.spec.variables),
    ...current.spec.secrets.map((secret) => secret.name),
  ]);
  const removed = [
    ...Object.entries(patch.variables ?? {}),
    ...Object.entries(patch.secrets ?? {}),
  ].flatMap(([name, value]) => (value === null ? [name] : []));
  const unknown = [...new Set(removed.filter((name) => !known.has(name)))];
  if (unknown.length === 0) return;
  throw badRequest(
    `environment '${current.name}' has no variable or secret ${unknown.map((name) => `'${name}'`).join(", ")} to remove`,
    { names: unknown },
  );
}
