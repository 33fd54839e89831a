import { randomUUID } from "node:crypto";
import { badRequest, conflict, notFound } from "../protocol/error.ts";
import type {
  CreateRepositoryBody,
  Repository,
  RepositoryCredential,
  RepositoryRecord,
} from "../protocol/repo.ts";
import type { Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import type { GitCredential } from "./credential.ts";
import { RepoError } from "./errors.ts";
import { githubTarget, installationToken } from "./forge.ts";
import type { RepoService } from "./repo-service.ts";
import { parseRepoSource, type RepoSource } from "./source.ts";
import type { RepoUploads } from "./uploads.ts";

/** A repository ready to talk to: where, with which credential, and its forge API. */
export interface ResolvedRepository {
  source: RepoSource;
  record: RepositoryRecord | null;
  /** For the forge's API (the token itself, or a freshly minted installation token). */
  apiToken: string | null;
}

/**
 * Registered repositories: a URL with a credential, sealed at rest, never shown again
 * (only a masked hint), opened only when Omoi's own git or API client needs it.
 */
export class RepositoryRegistry {
  constructor(
    private readonly store: Store,
    private readonly vault: Vault,
    private readonly service: RepoService,
    /** Folders a repository path may not be in (the data dir). */
    private readonly forbiddenRoots: readonly string[],
    /** Repositories sent as bundles, named `upload:<id>`. */
    private readonly uploads?: RepoUploads,
  ) {}

  async register(body: CreateRepositoryBody): Promise<Repository> {
    const probe = parseRepoSource(body.url, { forbiddenRoots: this.forbiddenRoots });
    const name = body.name ?? defaultName(probe.location);
    if (await this.store.getRepository(name)) {
      throw conflict(`a repository named '${name}' is already registered`, { name });
    }
    const environmentId = body.environment ? await this.environmentId(body.environment) : null;
    const id = `repo_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const now = Date.now();
    const record: RepositoryRecord = {
      id,
      name,
      url: probe.location,
      credential_kind: body.credential?.kind ?? "none",
      credential_hint: body.credential ? hint(body.credential) : null,
      credential_ciphertext: body.credential ? this.vault.sealJson(body.credential) : null,
      api_base_url: body.api_base_url?.replace(/\/+$/, "") ?? null,
      environment_id: environmentId,
      created_at: now,
      updated_at: now,
    };
    // The credential must work before it is kept.
    const resolved = await this.open(record);
    await this.service.mirror(resolved.source).inspect();
    return publicView(await this.store.createRepository(record));
  }

  async list(): Promise<Repository[]> {
    return (await this.store.listRepositories()).map(publicView);
  }

  async get(idOrName: string): Promise<Repository> {
    const record = await this.store.getRepository(idOrName);
    if (!record) throw notFound("repository", idOrName);
    return publicView(record);
  }

  /** Sets or (null) clears the environment tasks on this repository run in when they name none. */
  async setEnvironment(idOrName: string, environment: string | null): Promise<Repository> {
    const record = await this.store.getRepository(idOrName);
    if (!record) throw notFound("repository", idOrName);
    const environmentId = environment === null ? null : await this.environmentId(environment);
    const updated = await this.store.setRepositoryEnvironment(record.id, environmentId);
    if (!updated) {
      throw conflict(
        `repository '${idOrName}' or environment '${environment}' went away meanwhile`,
      );
    }
    return publicView(updated);
  }

  /** The environment a new task on this registered repository runs in when it names none. */
  async defaultEnvironment(repositoryId: string): Promise<string | null> {
    return (await this.store.getRepository(repositoryId))?.environment_id ?? null;
  }

  private async environmentId(key: string): Promise<string> {
    const environment = await this.store.environments.get(key);
    if (!environment) throw badRequest(`environment: '${key}' does not exist`);
    return environment.id;
  }

  async remove(idOrName: string): Promise<void> {
    const record = await this.store.getRepository(idOrName);
    if (!record || !(await this.store.deleteRepository(record.id))) {
      throw notFound("repository", idOrName);
    }
  }

  /**
   * What a task's `repo` names: a registered repository (by name, id or URL), an uploaded
   * one (`upload:<id>`), or a URL or path used as is, without a credential.
   */
  async resolve(input: string): Promise<ResolvedRepository> {
    const text = input.trim();
    const uploaded = await this.uploads?.source(text);
    if (uploaded) return { source: uploaded, record: null, apiToken: null };
    const byName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)
      ? await this.store.getRepository(text)
      : undefined;
    if (byName) return this.open(byName);
    const source = parseRepoSource(text, { forbiddenRoots: this.forbiddenRoots });
    const byUrl = (await this.store.listRepositories()).find(
      (record) => record.url === source.location,
    );
    if (byUrl) return this.open(byUrl);
    return { source, record: null, apiToken: null };
  }

  /** Opens a task's registered repository again (a fresh token for each operation). */
  async reopen(repositoryId: string | null, url: string): Promise<ResolvedRepository> {
    if (repositoryId) {
      const record = await this.store.getRepository(repositoryId);
      if (!record) {
        throw new RepoError("not_found", `the task's registered repository was deleted`);
      }
      return this.open(record);
    }
    return this.resolve(url);
  }

  private async open(record: RepositoryRecord): Promise<ResolvedRepository> {
    let credential: GitCredential | null = null;
    let apiToken: string | null = null;
    if (record.credential_ciphertext) {
      const stored = this.vault.openJson(record.credential_ciphertext) as RepositoryCredential;
      if (stored.kind === "token") {
        credential = { kind: "token", token: stored.token, username: stored.username };
        apiToken = stored.token;
      } else if (stored.kind === "basic") {
        credential = stored;
      } else {
        const target = githubTarget(record.url, record.api_base_url);
        if (!target) {
          throw new RepoError(
            "unsupported",
            "a GitHub App credential needs a github.com URL or an api_base_url",
          );
        }
        apiToken = await installationToken(target.apiBaseUrl, {
          appId: stored.app_id,
          installationId: stored.installation_id,
          privateKey: stored.private_key,
        });
        credential = { kind: "token", token: apiToken, username: "x-access-token" };
      }
    }
    const source = parseRepoSource(record.url, {
      forbiddenRoots: this.forbiddenRoots,
      credential,
    });
    return { source, record, apiToken };
  }
}

export function publicView(record: RepositoryRecord): Repository {
  const { credential_ciphertext: _sealed, ...rest } = record;
  return rest;
}

function hint(credential: RepositoryCredential): string {
  if (credential.kind === "token") return maskSecret(credential.token);
  if (credential.kind === "basic")
    return `${credential.username}:${maskSecret(credential.password)}`;
  return `GitHub App ${credential.app_id}, installation ${credential.installation_id}`;
}

function defaultName(location: string): string {
  const last = location.replace(/\/+$/, "").split("/").pop() ?? "repository";
  const name = last
    .replace(/\.git$/, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return (name || "repository").slice(0, 100);
}

/** What a person may see of a secret: its kind's prefix and last four characters. */
function maskSecret(secret: string): string {
  const prefix = /^(ghp_|gho_|ghs_|github_pat_|glpat-)/.exec(secret)?.[1] ?? "";
  return secret.length < 12 ? "…" : `${prefix}…${secret.slice(-4)}`;
}
