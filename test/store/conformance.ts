import { describe } from "node:test";
import { approvalConformance } from "./conformance-approvals.ts";
import { environmentConformance } from "./conformance-environments.ts";
import { eventConformance } from "./conformance-events.ts";
import { messageConformance } from "./conformance-messages.ts";
import { repositoryConformance } from "./conformance-repositories.ts";
import { sandboxConformance } from "./conformance-sandboxes.ts";
import { taskConformance } from "./conformance-tasks.ts";
import type { MakeStore } from "./fixtures.ts";

export type { MakeStore } from "./fixtures.ts";

/**
 * The behaviour every Store adapter must have. `makeStore(database)` opens a new, not yet
 * migrated store: the same name reaches the same data (so a test can run several "replicas"
 * at once), a new name an empty database. The calling test file cleans the databases up.
 */
export function storeConformance(name: string, makeStore: MakeStore) {
  describe(`Store conformance: ${name}`, () => {
    eventConformance(makeStore);
    messageConformance(makeStore);
    taskConformance(makeStore);
    sandboxConformance(makeStore);
    environmentConformance(makeStore);
    approvalConformance(makeStore);
    repositoryConformance(makeStore);
  });
}
