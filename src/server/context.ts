import type { Bus } from "../bus/bus.ts";
import type { Environments } from "../environment/environments.ts";
import type { Ingest } from "../ingest/ingest.ts";
import type { Control } from "../orchestrator/control.ts";
import type { OutgoingBundles } from "../repo/outgoing.ts";
import type { RepositoryRegistry } from "../repo/repositories.ts";
import type { TaskRepos } from "../repo/task-repos.ts";
import type { RepoUploads } from "../repo/uploads.ts";
import type { WorkspaceRetention } from "../sandbox/retention.ts";
import type { Store } from "../store/store.ts";
import type { Approvals } from "./approvals.ts";
import type { Config } from "./config.ts";
import type { ViewerHub } from "./viewer-hub.ts";
import type { WorkerHub } from "./worker-hub.ts";

export interface ModelInfo {
  scripted: boolean;
  base_url: string;
  name: string | null;
}

export interface ServerContext {
  config: Config;
  /** Signs worker tokens (see worker-token.ts). */
  secret: string;
  version: string;
  store: Store;
  bus: Bus;
  ingest: Ingest;
  viewers: ViewerHub;
  workers: WorkerHub;
  approvals: Approvals;
  control: Control;
  environments: Environments;
  /** Registered repositories and their credentials. */
  repositories: RepositoryRegistry;
  /** Tasks on repositories: changes, pull requests. */
  repos: TaskRepos;
  /** Repositories sent as git bundles. */
  uploads: RepoUploads;
  /** Files a task's result is sent in (`<data dir>/outgoing`), swept when a stop left them. */
  outgoing: OutgoingBundles;
  providerName: string;
  model: ModelInfo;
  /** What ended sandboxes keep on disk, and until when (the DELETE route reports it). */
  retention: WorkspaceRetention;
}
