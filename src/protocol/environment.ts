import { z } from "zod";
import { MAX_WARM_POOL } from "./environment-limits.ts";

export { MAX_WARM_POOL };

/**
 * Environments: what an agent's sandbox is prepared with — a setup script, a network level
 * per phase, variables, secrets, the model and its credentials, MCP servers. Secrets and
 * model credentials are write-only: bodies carry them in, responses carry only hints.
 */

export const SETUP_SCRIPT_MAX_BYTES = 64 * 1024;
export const VALUE_MAX_BYTES = 32 * 1024;
export const MAX_VARIABLES = 100;
export const MAX_HOSTS = 200;

/** A string's size in UTF-8, the same in Node and in a browser. */
const utf8Bytes = (value: string) => new TextEncoder().encode(value).length;

export const EnvironmentName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

export const NetworkLevel = z.enum(["none", "trusted", "custom", "full"]);
export type NetworkLevel = z.infer<typeof NetworkLevel>;

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOST_PATTERN = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*(?::(\\d{1,5}))?$`);

/** `example.com`, `*.example.com`, `registry.example.com:8443`; no scheme, path or IP ranges. */
export const HostPattern = z
  .string()
  .max(253)
  .refine(
    (value) => {
      const match = HOST_PATTERN.exec(value);
      if (!match) return false;
      const port = match[1];
      return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    },
    { message: "must be a host name, '*.' wildcard allowed, optional ':port' (1-65535)" },
  );

export const NetworkPolicy = z
  .object({
    level: NetworkLevel,
    /** Only with `custom`: the hosts the phase may reach (besides the model gateway). */
    hosts: z.array(HostPattern).max(MAX_HOSTS).optional(),
  })
  .strict()
  .superRefine((policy, context) => {
    if (policy.level === "custom" && !policy.hosts?.length) {
      context.addIssue({ code: "custom", message: "a custom network needs at least one host" });
    }
    if (policy.level !== "custom" && policy.hosts !== undefined) {
      context.addIssue({ code: "custom", message: "hosts are allowed only with level 'custom'" });
    }
  });
export type NetworkPolicy = z.infer<typeof NetworkPolicy>;

export const EnvironmentNetwork = z
  .object({ setup: NetworkPolicy.optional(), agent: NetworkPolicy.optional() })
  .strict();

/** Setup usually needs the package registries; the agent, by default, nothing but the model. */
export const DEFAULT_NETWORK: { setup: NetworkPolicy; agent: NetworkPolicy } = {
  setup: { level: "trusted" },
  agent: { level: "none" },
};

/** Names Omoi, the sandbox or the CLI set themselves; an environment may not override them. */
const RESERVED_NAME =
  /^(OMOI_|ANTHROPIC_|CLAUDE_|CLAUDECODE$|HOME$|PATH$|TMPDIR$|SHELL$|USER$|PWD$|NO_PROXY$|HTTPS?_PROXY$|ALL_PROXY$|no_proxy$|https?_proxy$|all_proxy$|IS_SANDBOX$|SANDBOX_RUNTIME$)/;

export const VariableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be a shell variable name ([A-Za-z_][A-Za-z0-9_]*)")
  .refine((name) => !RESERVED_NAME.test(name), {
    message: "is reserved (OMOI_*, ANTHROPIC_*, CLAUDE_*, proxy and shell variables)",
  });

const Value = z.string().refine((value) => utf8Bytes(value) <= VALUE_MAX_BYTES, {
  message: `must be at most ${VALUE_MAX_BYTES} bytes`,
});

export const SecretInput = z
  .object({
    value: Value.refine((value) => value.length > 0, { message: "must not be empty" }),
    /** Given to the setup script only, never to the agent's processes. */
    setup_only: z.boolean().default(false),
  })
  .strict();

export const ModelCredentialsInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("api_key"), api_key: z.string().min(1).max(4096) }).strict(),
  z
    .object({
      kind: z.literal("auth_token"),
      auth_token: z.string().min(1).max(4096),
      base_url: z.url({ protocol: /^https?$/ }).max(2048),
    })
    .strict(),
  /** A Claude subscription token, as `claude setup-token` prints it. */
  z.object({ kind: z.literal("oauth_token"), oauth_token: z.string().min(1).max(4096) }).strict(),
]);
export type ModelCredentialsInput = z.infer<typeof ModelCredentialsInput>;

export const McpServerName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 of letters, digits, '_' or '-'");
/** No control characters: a command or argument is one line a person can read. */
const Printable = (max: number) =>
  z
    .string()
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), {
      message: "must not contain control characters",
    });
export const MAX_MCP_HEADERS = 32;
export const MCP_HEADER_NAME_MAX = 256;
export const MCP_HEADER_VALUE_MAX_BYTES = 8 * 1024;
export const MCP_HEADERS_MAX_BYTES = 16 * 1024;

/** An HTTP field name: a token (RFC 9110), so it can never break the request it is sent in. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * What a header value may hold: visible ASCII, spaces and tabs. No CR or LF (they would end the
 * header and start another), no other control characters, nothing a fetch would refuse.
 */
export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/**
 * Fields the MCP transport, the HTTP connection or the sandbox's proxy set themselves: one given
 * here would break the connection or speak to the proxy instead of the server.
 */
const TRANSPORT_HEADER =
  /^(host|content-length|content-type|transfer-encoding|connection|keep-alive|upgrade|te|trailer|expect|accept|proxy-.*|mcp-session-id|mcp-protocol-version|last-event-id)$/i;

/** Why one configured header cannot be sent, or null when it can. */
function headerProblem(name: string, value: string, seen: Set<string>): string | null {
  if (!HEADER_NAME.test(name)) {
    return `'${name.slice(0, 64)}' is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`;
  }
  if (name.length > MCP_HEADER_NAME_MAX) {
    return `a header name is at most ${MCP_HEADER_NAME_MAX} characters`;
  }
  if (TRANSPORT_HEADER.test(name)) {
    return `'${name}' is set by the MCP transport or the connection; it cannot be configured`;
  }
  if (seen.has(name.toLowerCase())) {
    return `'${name}' is given twice (header names are case-insensitive)`;
  }
  if (!HEADER_VALUE.test(value)) {
    return `'${name}': a header value holds only visible ASCII, spaces and tabs (no line breaks or control characters)`;
  }
  if (utf8Bytes(value) > MCP_HEADER_VALUE_MAX_BYTES) {
    return `'${name}': a header value is at most ${MCP_HEADER_VALUE_MAX_BYTES} bytes`;
  }
  return null;
}

/** Headers sent with every request to a remote MCP server; values may reference `${NAME}`. */
export const McpHeaders = z.record(z.string(), z.string()).superRefine((headers, context) => {
  const names = Object.keys(headers);
  if (names.length > MAX_MCP_HEADERS) {
    context.addIssue({ code: "custom", message: `at most ${MAX_MCP_HEADERS} headers` });
  }
  const seen = new Set<string>();
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    bytes += utf8Bytes(name) + utf8Bytes(value);
    const problem = headerProblem(name, value, seen);
    seen.add(name.toLowerCase());
    if (problem) context.addIssue({ code: "custom", path: [name], message: problem });
  }
  if (bytes > MCP_HEADERS_MAX_BYTES) {
    context.addIssue({
      code: "custom",
      message: `the headers are at most ${MCP_HEADERS_MAX_BYTES} bytes in all`,
    });
  }
});

/**
 * An MCP server the agent may use. `stdio` ones run inside the sandbox (as the agent's
 * processes do); `env` values and `args` may name the environment's variables and agent
 * secrets as `${NAME}`, filled in by the worker. `http`/`sse` ones are reached through the
 * agent phase's network level, so their host must be allowed there; their `headers` values
 * may reference `${NAME}` the same way (an `Authorization: Bearer ${TOKEN}`).
 */
export const McpServer = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("stdio"),
      command: Printable(1024).refine((value) => value.trim().length > 0, {
        message: "must not be empty",
      }),
      args: z.array(Printable(4096)).max(100).default([]),
      env: keyedRecord(VariableName, Value, MAX_VARIABLES, "variables").optional(),
    })
    .strict(),
  z
    .object({
      type: z.enum(["http", "sse"]),
      url: z
        .url({ protocol: /^https?$/ })
        .max(2048)
        .refine((value) => !/^[a-z]+:\/\/[^/]*@/i.test(value), {
          message: "must not carry a user or password (they would be shown to everyone)",
        }),
      headers: McpHeaders.optional(),
    })
    .strict(),
]);
export type McpServer = z.infer<typeof McpServer>;

/** A record whose keys must pass `key`; a bad key is reported by name, with the reason. */
function keyedRecord<T extends z.ZodType>(
  key: z.ZodType<string>,
  value: T,
  max: number,
  noun: string,
) {
  return z.record(z.string(), value).superRefine((record, context) => {
    const names = Object.keys(record);
    if (names.length > max) context.addIssue({ code: "custom", message: `at most ${max} ${noun}` });
    for (const name of names) {
      const checked = key.safeParse(name);
      if (!checked.success) {
        context.addIssue({
          code: "custom",
          path: [name],
          message: `'${name}' ${checked.error.issues[0]?.message ?? "is not a valid name"}`,
        });
      }
    }
  });
}

const fields = {
  description: z.string().max(2000),
  setup_script: z.string().refine((value) => utf8Bytes(value) <= SETUP_SCRIPT_MAX_BYTES, {
    message: `must be at most ${SETUP_SCRIPT_MAX_BYTES} bytes`,
  }),
  network: EnvironmentNetwork,
  model: z.string().min(1).max(200),
  mcp_servers: keyedRecord(McpServerName, McpServer, 20, "servers"),
  /** Started sandboxes kept waiting for this environment's tasks; 0: none. */
  warm_pool: z
    .number()
    .int("must be a whole number")
    .min(0, "must be 0 or more")
    .max(MAX_WARM_POOL, `must be at most ${MAX_WARM_POOL}`),
};

/** A record keyed by variable names; a bad key is reported by name, with the reason. */
const limitedRecord = <T extends z.ZodType>(value: T) =>
  keyedRecord(VariableName, value, MAX_VARIABLES, "entries");

export const CreateEnvironmentBody = z
  .object({
    name: EnvironmentName,
    description: fields.description.optional(),
    setup_script: fields.setup_script.optional(),
    network: fields.network.optional(),
    variables: limitedRecord(Value).optional(),
    secrets: limitedRecord(SecretInput).optional(),
    model: fields.model.optional(),
    model_credentials: ModelCredentialsInput.optional(),
    mcp_servers: fields.mcp_servers.optional(),
    warm_pool: fields.warm_pool.optional(),
  })
  .strict();
export type CreateEnvironmentBody = z.infer<typeof CreateEnvironmentBody>;

/**
 * A patch: fields present are replaced; `null` clears one. In `variables` and `secrets` each
 * name present is set, and `null` deletes it; names not mentioned stay as they are.
 */
export const PatchEnvironmentBody = z
  .object({
    name: EnvironmentName.optional(),
    description: fields.description.nullable().optional(),
    setup_script: fields.setup_script.nullable().optional(),
    network: fields.network.nullable().optional(),
    variables: limitedRecord(Value.nullable()).optional(),
    secrets: limitedRecord(SecretInput.nullable()).optional(),
    model: fields.model.nullable().optional(),
    model_credentials: ModelCredentialsInput.nullable().optional(),
    mcp_servers: fields.mcp_servers.nullable().optional(),
    warm_pool: fields.warm_pool.nullable().optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, { message: "the patch changes nothing" });
export type PatchEnvironmentBody = z.infer<typeof PatchEnvironmentBody>;

/** What the API returns: secrets and credentials only as hints. */
export const Environment = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  setup_script: z.string().nullable(),
  network: z.object({ setup: NetworkPolicy, agent: NetworkPolicy }),
  variables: z.record(z.string(), z.string()),
  secrets: z.array(z.object({ name: z.string(), setup_only: z.boolean(), hint: z.string() })),
  model: z.string().nullable(),
  model_credentials: z
    .object({
      kind: z.enum(["api_key", "auth_token", "oauth_token"]),
      hint: z.string(),
      base_url: z.string().optional(),
    })
    .nullable(),
  mcp_servers: z.record(z.string(), McpServer),
  /** When a rebuild of the setup snapshots was last asked for; null: never. */
  snapshots_reset_at: z.number().nullable(),
  /** Started sandboxes kept waiting for this environment's tasks (see docs/environments.md). */
  warm_pool: z.number().int(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type Environment = z.infer<typeof Environment>;

export const EnvironmentList = z.object({ environments: z.array(Environment) });
export type EnvironmentList = z.infer<typeof EnvironmentList>;

/** A masked hint of a secret value: never more than its last four characters, and only of long ones. */
export function secretHint(value: string): string {
  return value.length >= 16 ? `••••${value.slice(-4)}` : "••••";
}
