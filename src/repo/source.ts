import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { GitCredential } from "./credential.ts";
import { RepoError } from "./errors.ts";

/** Where a task's code comes from and its result goes to. */
export interface RepoSource {
  /** `remote`: an http(s) URL; `local`: a repository on the server's machine. */
  kind: "remote" | "local";
  /** The URL or absolute path Omoi's git talks to. Never holds a credential. */
  location: string;
  /** What events, logs and the API show. */
  display: string;
  credential: GitCredential | null;
}

export interface ParseSourceOptions {
  /** Folders a local repository may not be in (the server's data dir: mirrors, workspaces). */
  forbiddenRoots: readonly string[];
  credential?: GitCredential | null;
}

/**
 * Reads a `repo` as a person gives it: an https URL, a file URL, or a path on the server's
 * machine. Registered names are looked up before this is called.
 */
export function parseRepoSource(input: string, options: ParseSourceOptions): RepoSource {
  const text = input.trim();
  if (text === "" || text.length > 2048 || /[\0\n\r]/.test(text)) {
    throw new RepoError("invalid_repository", "repo must be a URL or a path of a git repository");
  }
  const credential = options.credential ?? null;
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RepoError("invalid_repository", `repo '${text}' is not a valid URL`);
    }
    if (url.username || url.password) {
      throw new RepoError(
        "invalid_repository",
        "repo URL must not carry a credential; register the repository with its credential instead",
      );
    }
    if (url.search || url.hash) {
      throw new RepoError("invalid_repository", "repo URL must not have a query or fragment");
    }
    const location = url.toString();
    return { kind: "remote", location, display: location, credential };
  }
  if (/^file:\/\//i.test(text)) {
    let file: string;
    try {
      file = fileURLToPath(text);
    } catch {
      throw new RepoError("invalid_repository", `repo '${text}' is not a valid file URL`);
    }
    return localSource(file, options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^[^/]+@[^/]+:/.test(text)) {
    throw new RepoError(
      "unsupported",
      "only https://, http://, file:// URLs and paths are supported (ssh is not yet)",
    );
  }
  if (!path.isAbsolute(text)) {
    throw new RepoError("invalid_repository", "a repository path must be absolute");
  }
  return localSource(text, options);
}

function localSource(file: string, options: ParseSourceOptions): RepoSource {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new RepoError("not_found", `no repository at ${file}`, { repo: file });
  }
  for (const root of options.forbiddenRoots) {
    const resolved = safeRealpath(root);
    if (real === resolved || real.startsWith(`${resolved}${path.sep}`)) {
      throw new RepoError("invalid_repository", "repo may not be inside Omoi's data folder");
    }
  }
  return { kind: "local", location: real, display: real, credential: null };
}

function safeRealpath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}
