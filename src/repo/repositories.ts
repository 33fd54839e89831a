import { randomUUID } from "node:crypto";
import { badRequest, conflict, notFound } from "../protocol/error.ts";
import type {
  CreateRepositoryBody,
  PatchRepositoryBody,
  Repository,
  RepositoryCredential,
  RepositoryRecord,
} from "../protocol/repo.ts";
import type { RepositoryPatch, Store } from "../store/store.ts";
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
    await this.requireFreeName(name);
    const environmentId = body.environment ? await this.environmentId(body.environment) : null;
    const id = `repo_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const now = Date.now();
    const record: RepositoryRecord = {
      id,
      name,
      url: probe.location,
      ...this.sealed(body.credential ?? null),
      api_base_url: body.api_base_url ? apiBaseUrl(body.api_base_url) : null,
      environment_id: environmentId,
      created_at: now,
      updated_at: now,
    };
    await this.verify(record);
    return publicView(await this.store.createRepository(record));
  }

  /**
   * Edits a registered repository. A new URL, credential or API address is tried against
   * the remote exactly as at registration before anything is kept; when it fails, nothing
   * changes and the old credential goes on working. Tasks read the repository afresh for
   * each operation, so tasks already created use the new credential and URL from then on.
   */
  async update(idOrName: string, body: PatchRepositoryBody): Promise<Repository> {
    const current = await this.store.getRepository(idOrName);
    if (!current) throw notFound("repository", idOrName);
    const patch: RepositoryPatch = {};
    if (body.name !== undefined && body.name !== current.name) {
      await this.requireFreeName(body.name, current.id);
      patch.name = body.name;
    }
    if (body.url !== undefined) {
      patch.url = parseRepoSource(body.url, { forbiddenRoots: this.forbiddenRoots }).location;
    }
    if (body.api_base_url !== undefined) {
      patch.api_base_url = body.api_base_url === null ? null : apiBaseUrl(body.api_base_url);
    }
    if (body.environment !== undefined) {
      patch.environment_id =
        body.environment === null ? null : await this.environmentId(body.environment);
    }
    if (body.credential !== undefined) Object.assign(patch, this.sealed(body.credential));
    const reachesRemote =
      patch.url !== undefined ||
      patch.api_base_url !== undefined ||
      patch.credential_ciphertext !== undefined;
    // The credential (or going without one) must work before it is kept.
    if (reachesRemote) {
      const next = { ...current, ...patch };
      await this.verify(next).catch((error: unknown) => {
        throw body.credential === null ? credentialNeeded(error) : error;
      });
    }
    const updated = await this.store.updateRepository(current.id, patch);
    if (!updated) {
      throw conflict(`repository '${idOrName}' or the environment named went away meanwhile`);
    }
    if (updated.url !== current.url) await this.discardPrepared(current.url);
    return publicView(updated);
  }

  /**
   * Frees the disk of the checkout prepared for `url`'s next task (see `SpareCheckouts`) when
   * no registered repository names that URL any more. Its mirror stays: tasks created
   * earlier still fetch and push through it.
   */
  private async discardPrepared(url: string): Promise<void> {
    const others = await this.store.listRepositories();
    if (others.some((record) => record.url === url)) return;
    const source = parseRepoSource(url, { forbiddenRoots: this.forbiddenRoots });
    await this.service.discardPrepared(source).catch(() => undefined);
  }

  private async requireFreeName(name: string, exceptId?: string): Promise<void> {
    const taken = await this.store.getRepository(name);
    if (taken && taken.id !== exceptId) {
      throw conflict(`a repository named '${name}' is already registered`, { name });
    }
  }

  /** The stored form of a credential: sealed, with only a masked hint in the clear. */
  private sealed(
    credential: RepositoryCredential | null,
  ): Pick<RepositoryRecord, "credential_kind" | "credential_hint" | "credential_ciphertext"> {
    if (!credential) {
      return { credential_kind: "none", credential_hint: null, credential_ciphertext: null };
    }
    return {
      credential_kind: credential.kind,
      credential_hint: hint(credential),
      credential_ciphertext: this.vault.sealJson(credential),
    };
  }

  /**
   * Lists the remote's branches with the record's URL and credential (ls-remote, trusted
   * side). The credential being tried is never lent to the git of tasks running meanwhile.
   */
  private async verify(record: RepositoryRecord): Promise<void> {
    const resolved = await this.open(record);
    await this.service.probe(resolved.source);
  }

  async list(): Promise<Repository[]> {
    return (await this.store.listRepositories()).map(publicView);
  }

  async get(idOrName: string): Promise<Repository> {
    const record = await this.store.getRepository(idOrName);
    if (!record) throw notFound("repository", idOrName);
    return publicView(record);
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
    await this.discardPrepared(record.url);
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

/**
 * A remote refusing to be read without a credential, when asked to drop the stored one:
 * said plainly, since the remote's own answer (a refused login) reads as a wrong password.
 */
function credentialNeeded(error: unknown): unknown {
  if (!(error instanceof RepoError) || error.code !== "auth_refused") return error;
  const display = String(error.data?.repo ?? "the repository");
  return new RepoError(
    "auth_refused",
    `${display} needs a credential: the remote refused to be read without one, ` +
      "so the stored credential is kept and nothing changed",
    { repo: display },
  );
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

/** A forge API address as kept: without trailing slashes. */
function apiBaseUrl(url: string): string {
  return url.replace(/\/+$/, "");
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
