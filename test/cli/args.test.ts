import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  choiceFlag,
  choiceListFlag,
  DEFAULT_SERVER_URL,
  entityIdArgument,
  integerFlag,
  parseCommandArgs,
  positiveNumberFlag,
  resolveGlobalOptions,
  splitCommand,
} from "../../src/cli/args.ts";
import { UsageError } from "../../src/cli/errors.ts";

const usage = (pattern: RegExp) => (error: unknown) =>
  error instanceof UsageError && error.exitCode === 2 && pattern.test(error.message);

describe("splitCommand", () => {
  it("finds the command after global flags and their values", () => {
    assert.deepEqual(splitCommand(["--server", "http://x", "--json", "tasks", "--limit", "3"]), {
      command: "tasks",
      rest: ["--server", "http://x", "--json", "--limit", "3"],
    });
    assert.deepEqual(splitCommand(["--token=abc", "run", "hi"]), {
      command: "run",
      rest: ["--token=abc", "hi"],
    });
    assert.deepEqual(splitCommand(["--help"]), { rest: ["--help"] });
  });
});

describe("parseCommandArgs", () => {
  const options = { limit: { type: "string" }, detach: { type: "boolean" } } as const;

  it("accepts global and command flags anywhere", () => {
    const parsed = parseCommandArgs("run", ["fix", "--json", "--limit", "3", "it"], options);
    assert.deepEqual(parsed.positionals, ["fix", "it"]);
    assert.equal(parsed.values.limit, "3");
    assert.equal(parsed.values.json, true);
  });

  it("names an unknown flag", () => {
    assert.throws(
      () => parseCommandArgs("run", ["--nope"], options),
      usage(/^unknown flag --nope$/),
    );
  });

  it("says when a flag's value is missing", () => {
    assert.throws(
      () => parseCommandArgs("run", ["--limit"], options),
      usage(/^--limit needs a value$/),
    );
  });

  it("says how to give a value that starts with a dash, instead of claiming the flag takes none", () => {
    assert.throws(
      () => parseCommandArgs("run", ["--limit", "-5"], options),
      usage(/^--limit needs a value; to give one that starts with '-', write --limit=-…$/),
    );
  });

  it("says when a boolean flag gets a value", () => {
    assert.throws(
      () => parseCommandArgs("run", ["--detach=yes"], options),
      usage(/^--detach does not take a value$/),
    );
  });

  it("remembers the command for the help hint", () => {
    assert.throws(
      () => parseCommandArgs("tasks", ["--nope"], options),
      (error: unknown) => error instanceof UsageError && error.command === "tasks",
    );
  });
});

describe("flag values", () => {
  it("checks whole numbers and their bounds", () => {
    assert.equal(integerFlag({ limit: "5" }, "limit", { min: 1, max: 500 }), 5);
    assert.equal(integerFlag({}, "limit", { min: 1, max: 500 }), undefined);
    for (const bad of ["abc", "1.5", "0", "501", "", "5x"]) {
      assert.throws(
        () => integerFlag({ limit: bad }, "limit", { min: 1, max: 500 }),
        usage(/^--limit must be a whole number from 1 to 500/),
      );
    }
  });

  it("checks budgets", () => {
    assert.equal(positiveNumberFlag({ "max-budget": "2.5" }, "max-budget", 100), 2.5);
    assert.equal(positiveNumberFlag({ "max-budget": "$3" }, "max-budget", 100), 3);
    for (const bad of ["-1", "0", "lots", "1000"]) {
      assert.throws(
        () => positiveNumberFlag({ "max-budget": bad }, "max-budget", 100),
        usage(/--max-budget/),
      );
    }
  });

  it("checks choices, ignoring case", () => {
    const priorities = ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const;
    assert.equal(choiceFlag({ priority: "high" }, "priority", priorities), "HIGH");
    assert.throws(
      () => choiceFlag({ priority: "urgent" }, "priority", priorities),
      usage(/--priority must be one of CRITICAL, HIGH, MEDIUM, LOW; got 'urgent'/),
    );
    assert.deepEqual(
      choiceListFlag({ status: "running, failed" }, "status", ["running", "failed", "pending"]),
      ["running", "failed"],
    );
    assert.throws(
      () => choiceListFlag({ status: "running,done" }, "status", ["running", "failed"]),
      usage(/'done' is not one of running, failed/),
    );
  });

  it("checks ids before they go into a URL", () => {
    assert.equal(entityIdArgument("task_abc", "id"), "task_abc");
    assert.throws(() => entityIdArgument(undefined, "task id"), usage(/^missing task id$/));
    assert.throws(() => entityIdArgument("../etc", "id"), usage(/not a valid id/));
  });
});

describe("resolveGlobalOptions", () => {
  it("takes flags over env over defaults", () => {
    assert.deepEqual(resolveGlobalOptions({}, {}), {
      server: DEFAULT_SERVER_URL,
      token: undefined,
      json: false,
    });
    assert.deepEqual(
      resolveGlobalOptions({}, { OMOI_URL: "http://env:1/", OMOI_API_TOKEN: "t-env" }),
      { server: "http://env:1", token: "t-env", json: false },
    );
    assert.deepEqual(
      resolveGlobalOptions(
        { server: "https://flag:2", token: "t-flag", json: true },
        { OMOI_URL: "http://env:1", OMOI_API_TOKEN: "t-env" },
      ),
      { server: "https://flag:2", token: "t-flag", json: true },
    );
  });

  it("finds a server started in the same shell with OMOI_PORT / OMOI_HOST, unless OMOI_URL says otherwise", () => {
    const server = (env: NodeJS.ProcessEnv) => resolveGlobalOptions({}, env).server;
    assert.equal(server({ OMOI_PORT: "18437" }), "http://127.0.0.1:18437");
    assert.equal(server({ OMOI_PORT: "18437", OMOI_HOST: "0.0.0.0" }), "http://127.0.0.1:18437");
    assert.equal(server({ OMOI_PORT: "9000", OMOI_HOST: "::1" }), "http://[::1]:9000");
    assert.equal(server({ OMOI_HOST: "10.0.0.5" }), "http://10.0.0.5:18000");
    assert.equal(server({ OMOI_PORT: "18437", OMOI_URL: "http://env:1" }), "http://env:1");
    assert.equal(server({ OMOI_PORT: "nonsense" }), DEFAULT_SERVER_URL);
  });

  it("rejects a server that is not an http URL", () => {
    assert.throws(() => resolveGlobalOptions({ server: "nope" }, {}), usage(/is not a URL/));
    assert.throws(
      () => resolveGlobalOptions({ server: "ftp://x" }, {}),
      usage(/must start with http/),
    );
  });
});
