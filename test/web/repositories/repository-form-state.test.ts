import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Environment } from "../../../src/protocol/environment.ts";
import {
  CreateRepositoryBody,
  PatchRepositoryBody,
  type Repository,
} from "../../../src/protocol/repo.ts";
import {
  describeCredential,
  editBody,
  editCredentialChoices,
  editRepositoryForm,
  environmentName,
  initialRepositoryForm,
  type RepositoryFormState,
  registerBody,
  withoutSecrets,
} from "../../../web/src/repositories/repository-form-state.ts";

const form = (change: Partial<RepositoryFormState>): RepositoryFormState => ({
  ...initialRepositoryForm(),
  url: " https://git.example.com/acme/project.git ",
  ...change,
});

/** What the form sends is what the server accepts. */
const accepted = (body: unknown) => {
  const parsed = CreateRepositoryBody.safeParse(body);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
};

describe("the register-a-repository form's state", () => {
  it("sends a token as the token credential, trimmed fields, optional ones left out", () => {
    const body = registerBody(form({ token: "ghp_secret1234" }));
    assert.deepEqual(body, {
      url: "https://git.example.com/acme/project.git",
      credential: { kind: "token", token: "ghp_secret1234" },
    });
    accepted(body);
  });

  it("sends the name, the forge API, the default environment and who the token is sent as", () => {
    const body = registerBody(
      form({
        name: " project ",
        apiBaseUrl: "https://ghe.example.com/api/v3",
        environment: "env_1",
        token: "t0ken",
        tokenUsername: " bot ",
      }),
    );
    assert.deepEqual(body, {
      url: "https://git.example.com/acme/project.git",
      name: "project",
      api_base_url: "https://ghe.example.com/api/v3",
      environment: "env_1",
      credential: { kind: "token", token: "t0ken", username: "bot" },
    });
    accepted(body);
  });

  it("sends a username and password, and a GitHub App's ids and key", () => {
    const basic = registerBody(
      form({ credential: "basic", username: " alice ", password: " pw " }),
    );
    assert.deepEqual(basic.credential, { kind: "basic", username: "alice", password: " pw " });
    accepted(basic);
    const app = registerBody(
      form({
        credential: "github_app",
        appId: "12",
        installationId: " 34 ",
        privateKey: "-----BEGIN KEY-----\n",
      }),
    );
    assert.deepEqual(app.credential, {
      kind: "github_app",
      app_id: "12",
      installation_id: "34",
      private_key: "-----BEGIN KEY-----\n",
    });
    accepted(app);
  });

  it("a public repository sends no credential, even with secrets typed before the kind changed", () => {
    const body = registerBody(form({ credential: "none", token: "left-over" }));
    assert.deepEqual(body, { url: "https://git.example.com/acme/project.git" });
  });

  it("says what is missing instead of sending it", () => {
    assert.throws(() => registerBody(form({ url: "  ", token: "t" })), /URL: enter/);
    assert.throws(() => registerBody(form({ token: "" })), /enter the access token/);
    assert.throws(
      () => registerBody(form({ credential: "basic", username: "alice" })),
      /username and the password/,
    );
    assert.throws(
      () => registerBody(form({ credential: "github_app", appId: "1", installationId: "2" })),
      /app id, the installation id and its private key/,
    );
  });

  it("forgets every secret it held, keeping the rest", () => {
    const state = form({ name: "p", token: "t", password: "p", privateKey: "k" });
    assert.deepEqual(withoutSecrets(state), { ...state, token: "", password: "", privateKey: "" });
  });

  it("describes a credential by its kind and the server's hint, and a default environment by name", () => {
    assert.equal(
      describeCredential({ credential_kind: "token", credential_hint: "ghp_…1234" }),
      "token ghp_…1234",
    );
    assert.equal(
      describeCredential({ credential_kind: "basic", credential_hint: "alice:…abcd" }),
      "password alice:…abcd",
    );
    assert.equal(
      describeCredential({ credential_kind: "none", credential_hint: null }),
      "no credential (public)",
    );
    assert.equal(
      describeCredential({
        credential_kind: "github_app",
        credential_hint: "GitHub App 1, installation 2",
      }),
      "GitHub App 1, installation 2",
    );
    const environments = [{ id: "env_1", name: "node" }] as Environment[];
    assert.equal(environmentName("env_1", environments), "node");
    assert.equal(environmentName("env_gone", environments), "env_gone");
    assert.equal(environmentName(null, environments), null);
  });
});

describe("the edit-a-repository form's state", () => {
  const repository: Repository = {
    id: "repo_1",
    name: "project",
    url: "https://git.example.com/acme/project.git",
    credential_kind: "token",
    credential_hint: "ghp_…1234",
    api_base_url: null,
    environment_id: null,
    created_at: 1,
    updated_at: 1,
  };
  const edited = (change: Partial<RepositoryFormState>) => ({
    ...editRepositoryForm(repository),
    ...change,
  });
  const patchAccepted = (body: unknown) => {
    const parsed = PatchRepositoryBody.safeParse(body);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  };

  it("starts from the repository, keeping its credential, which it never holds", () => {
    const state = editRepositoryForm(repository);
    assert.equal(state.credential, "keep");
    assert.equal(state.name, "project");
    assert.equal(state.url, repository.url);
    assert.equal(state.token, "");
    assert.deepEqual(
      editCredentialChoices(repository).map((choice) => choice.value),
      ["keep", "none", "token", "basic", "github_app"],
    );
    // A repository with no credential has none to remove.
    assert.deepEqual(
      editCredentialChoices({ credential_kind: "none" }).map((choice) => choice.value),
      ["keep", "token", "basic", "github_app"],
    );
  });

  it("removing the credential sends credential null, alone or with other changes", () => {
    const removed = editBody(edited({ credential: "none" }), repository);
    assert.deepEqual(removed, { credential: null });
    patchAccepted(removed);
    const moved = editBody(
      edited({ credential: "none", url: "https://git.example.com/acme/public.git" }),
      repository,
    );
    assert.deepEqual(moved, { url: "https://git.example.com/acme/public.git", credential: null });
    patchAccepted(moved);
    assert.throws(
      () => editBody(edited({ credential: "none" }), { ...repository, credential_kind: "none" }),
      /Nothing to change/,
    );
  });

  it("sends only what differs: a new credential, URL, name or forge API", () => {
    const rotated = editBody(edited({ credential: "token", token: "ghp_new5678" }), repository);
    assert.deepEqual(rotated, { credential: { kind: "token", token: "ghp_new5678" } });
    patchAccepted(rotated);
    const moved = editBody(
      edited({
        url: " https://git.example.com/acme/site.git ",
        name: " site ",
        apiBaseUrl: "https://ghe.example.com/api/v3",
      }),
      repository,
    );
    assert.deepEqual(moved, {
      name: "site",
      url: "https://git.example.com/acme/site.git",
      api_base_url: "https://ghe.example.com/api/v3",
    });
    patchAccepted(moved);
    const cleared = editBody(edited({ apiBaseUrl: "" }), {
      ...repository,
      api_base_url: "https://ghe.example.com/api/v3",
    });
    assert.deepEqual(cleared, { api_base_url: null });
  });

  it("says when nothing changed, or what is missing, instead of sending it", () => {
    assert.throws(() => editBody(edited({}), repository), /Nothing to change/);
    assert.throws(() => editBody(edited({ name: " " }), repository), /Name/);
    assert.throws(() => editBody(edited({ url: "" }), repository), /URL/);
    assert.throws(
      () => editBody(edited({ credential: "basic", username: "alice" }), repository),
      /username and the password/,
    );
  });
});
