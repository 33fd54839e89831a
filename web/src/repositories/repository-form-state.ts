import type {
  CreateRepositoryBody,
  CredentialKind,
  Environment,
  PatchRepositoryBody,
  Repository,
} from "../api/types.ts";

/*
 * The register-a-repository form's state and the body it sends. The credential is
 * write-only: once sent it is sealed on the server and only its masked hint ever comes back,
 * so nothing here reads one from an answer.
 */

export interface RepositoryFormState {
  name: string;
  url: string;
  /** GitHub Enterprise's REST API; empty for github.com and forges Omoi has no API for. */
  apiBaseUrl: string;
  /** The default environment's id; empty for none. */
  environment: string;
  /**
   * `keep`: an edit that leaves the stored credential as it is; `none` in an edit removes the
   * stored one.
   */
  credential: CredentialKind | "keep";
  token: string;
  /** Who the token is sent as; empty for the server's default (`x-access-token`). */
  tokenUsername: string;
  username: string;
  password: string;
  appId: string;
  installationId: string;
  privateKey: string;
}

export const CREDENTIAL_CHOICES: { value: CredentialKind; label: string }[] = [
  { value: "none", label: "None (a public repository)" },
  { value: "token", label: "Access token" },
  { value: "basic", label: "Username + password" },
  { value: "github_app", label: "GitHub App installation" },
];

export function initialRepositoryForm(): RepositoryFormState {
  return {
    name: "",
    url: "",
    apiBaseUrl: "",
    environment: "",
    credential: "token",
    token: "",
    tokenUsername: "",
    username: "",
    password: "",
    appId: "",
    installationId: "",
    privateKey: "",
  };
}

/**
 * What editing offers: keep the stored credential, remove it (when there is one), or replace
 * it with one of these.
 */
export function editCredentialChoices(
  repository: Pick<Repository, "credential_kind">,
): { value: RepositoryFormState["credential"]; label: string }[] {
  return [
    { value: "keep", label: "Keep the current one" },
    ...(repository.credential_kind === "none"
      ? []
      : [{ value: "none" as const, label: "Remove it (a public repository)" }]),
    ...CREDENTIAL_CHOICES.filter((choice) => choice.value !== "none"),
  ];
}

/** The edit form of a registered repository: its name, URL and API address; its credential kept. */
export function editRepositoryForm(repository: Repository): RepositoryFormState {
  return {
    ...initialRepositoryForm(),
    name: repository.name,
    url: repository.url,
    apiBaseUrl: repository.api_base_url ?? "",
    credential: "keep",
  };
}

/** The same form with every secret it held emptied (after the server took them). */
export function withoutSecrets(state: RepositoryFormState): RepositoryFormState {
  return { ...state, token: "", password: "", privateKey: "" };
}

function credential(state: RepositoryFormState): CreateRepositoryBody["credential"] {
  switch (state.credential) {
    case "none":
    case "keep":
      return undefined;
    case "token": {
      if (!state.token) throw new Error("Credential: enter the access token");
      const username = state.tokenUsername.trim();
      return username ? { kind: "token", token: state.token, username } : { kind: "token", token: state.token };
    }
    case "basic":
      if (!state.username.trim() || !state.password) {
        throw new Error("Credential: enter the username and the password");
      }
      return { kind: "basic", username: state.username.trim(), password: state.password };
    case "github_app":
      if (!state.appId.trim() || !state.installationId.trim() || !state.privateKey.trim()) {
        throw new Error("Credential: a GitHub App needs its app id, the installation id and its private key");
      }
      return {
        kind: "github_app",
        app_id: state.appId.trim(),
        installation_id: state.installationId.trim(),
        private_key: state.privateKey,
      };
  }
}

/** The body of `POST /api/v1/repositories`. Throws an Error saying what to fix. */
export function registerBody(state: RepositoryFormState): CreateRepositoryBody {
  const url = state.url.trim();
  if (!url) throw new Error("URL: enter the repository's clone URL (https://…)");
  const body: CreateRepositoryBody = { url };
  if (state.name.trim()) body.name = state.name.trim();
  if (state.apiBaseUrl.trim()) body.api_base_url = state.apiBaseUrl.trim();
  if (state.environment) body.environment = state.environment;
  const sent = credential(state);
  if (sent) body.credential = sent;
  return body;
}

/**
 * The body of `PATCH /api/v1/repositories/{id}`: only what differs from `repository`. Throws an
 * Error saying what to fix, or that nothing changed.
 */
export function editBody(state: RepositoryFormState, repository: Repository): PatchRepositoryBody {
  const body: PatchRepositoryBody = {};
  const name = state.name.trim();
  if (!name) throw new Error("Name: a registered repository needs one");
  if (name !== repository.name) body.name = name;
  const url = state.url.trim();
  if (!url) throw new Error("URL: enter the repository's clone URL (https://…)");
  if (url !== repository.url) body.url = url;
  const apiBaseUrl = state.apiBaseUrl.trim() || null;
  if (apiBaseUrl !== repository.api_base_url) body.api_base_url = apiBaseUrl;
  const sent = credential(state);
  if (sent) body.credential = sent;
  else if (state.credential === "none" && repository.credential_kind !== "none") body.credential = null;
  if (Object.keys(body).length === 0) throw new Error("Nothing to change: edit a field or pick a new credential");
  return body;
}

/** How a listed repository's credential reads: its kind and the server's masked hint. */
export function describeCredential(repository: Pick<Repository, "credential_kind" | "credential_hint">): string {
  switch (repository.credential_kind) {
    case "none":
      return "no credential (public)";
    case "token":
      return `token ${repository.credential_hint ?? ""}`.trim();
    case "basic":
      return `password ${repository.credential_hint ?? ""}`.trim();
    case "github_app":
      return repository.credential_hint ?? "GitHub App";
  }
}

/** The name of a repository's default environment; its id when the list does not hold it. */
export function environmentName(environmentId: string | null, environments: Environment[]): string | null {
  if (environmentId === null) return null;
  return environments.find((environment) => environment.id === environmentId)?.name ?? environmentId;
}
