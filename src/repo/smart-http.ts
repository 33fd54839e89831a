import { basicAuthorization, type GitCredential } from "./credential.ts";
import type { RemoteHeads } from "./mirror.ts";

/**
 * A remote's branches read in process over git's smart HTTP protocol, with no process
 * started and the connection kept for the next request: one request to a server speaking
 * protocol v0; to one speaking v2, which is asked for HEAD and the branches only, two the
 * first time and one afterwards (its capabilities are remembered).
 *
 * It is a fast path and nothing more: it answers only a clean listing. Anything else — a
 * refusal, a redirect, a server that is not a smart git server, a malformed or oversized
 * answer, a network or TLS error — answers null, and the caller asks git (`ls-remote`),
 * whose errors are the ones people see.
 */
export async function listRemoteHeads(
  url: string,
  credential: GitCredential | null,
  options: { timeoutMs?: number } = {},
): Promise<RemoteHeads | null> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    return null;
  }
  // Only a plain URL: anything git would read differently is left to git.
  if (base.protocol !== "https:" && base.protocol !== "http:") return null;
  if (base.username || base.password || base.search || base.hash) return null;
  const root = url.replace(/\/+$/, "");
  const signal = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const headers: Record<string, string> = {
    "Git-Protocol": "version=2",
    "User-Agent": "git/omoi",
    ...(credential ? { Authorization: basicAuthorization(credential) } : {}),
  };
  try {
    // A server that spoke v2 before is asked for the listing at once (its capabilities do not
    // change between tasks); if it no longer answers so, it is asked from the start.
    const known = SPEAKS_V2.get(root);
    if (known) {
      const heads = await lsRefs(root, headers, known, signal);
      if (heads) return heads;
      SPEAKS_V2.delete(root);
    }
    const advertised = await request(`${root}/info/refs?service=git-upload-pack`, {
      headers,
      signal,
      contentType: "application/x-git-upload-pack-advertisement",
    });
    if (!advertised) return null;
    let packets = readPackets(advertised);
    if (!packets) return null;
    // The service line and its flush, sent by most servers before either version.
    if (textOf(packets[0]) === "# service=git-upload-pack") {
      if (packets[1] !== FLUSH) return null;
      packets = packets.slice(2);
    }
    if (textOf(packets[0]) !== "version 2") return fromAdvertisement(packets);
    const capabilities = packets.slice(1, packets.indexOf(FLUSH)).map(textOf);
    if (!capabilities.some((line) => line === "ls-refs" || line?.startsWith("ls-refs="))) {
      return null;
    }
    const server = {
      format: capabilities
        .find((line) => line?.startsWith("object-format="))
        ?.slice("object-format=".length),
    };
    const heads = await lsRefs(root, headers, server, signal);
    if (heads) remember(root, server);
    return heads;
  } catch {
    return null;
  }
}

/** Remotes (by URL) that answered `ls-refs`, with their object format; the oldest go first. */
const SPEAKS_V2 = new Map<string, { format?: string }>();
const REMEMBERED = 256;

function remember(root: string, server: { format?: string }) {
  SPEAKS_V2.delete(root);
  SPEAKS_V2.set(root, server);
  for (const oldest of SPEAKS_V2.keys()) {
    if (SPEAKS_V2.size <= REMEMBERED) break;
    SPEAKS_V2.delete(oldest);
  }
}

/** Protocol v2's `ls-refs`, for HEAD and the branches only. */
async function lsRefs(
  root: string,
  headers: Record<string, string>,
  server: { format?: string },
  signal: AbortSignal,
): Promise<RemoteHeads | null> {
  const body = Buffer.concat([
    packet("command=ls-refs\n"),
    packet("agent=git/omoi\n"),
    ...(server.format ? [packet(`object-format=${server.format}\n`)] : []),
    Buffer.from("0001"),
    packet("symrefs\n"),
    packet("ref-prefix HEAD\n"),
    packet("ref-prefix refs/heads/\n"),
    Buffer.from("0000"),
  ]);
  const listed = await request(`${root}/git-upload-pack`, {
    headers: {
      ...headers,
      "Content-Type": "application/x-git-upload-pack-request",
      Accept: "application/x-git-upload-pack-result",
    },
    body,
    signal,
    contentType: "application/x-git-upload-pack-result",
  });
  const answer = listed && readPackets(listed);
  return answer ? fromLsRefs(answer) : null;
}

/** The most a listing may take; a remote with more is listed by git. */
const MAX_BYTES = 16 * 1024 * 1024;
const FLUSH = "flush";
const DELIMITER = "delimiter";
type Packet = Buffer | typeof FLUSH | typeof DELIMITER;

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

async function request(
  url: string,
  options: {
    headers: Record<string, string>;
    body?: Buffer;
    signal: AbortSignal;
    contentType: string;
  },
): Promise<Buffer | null> {
  const response = await fetch(url, {
    method: options.body ? "POST" : "GET",
    headers: options.headers,
    body: options.body,
    // A redirect is git's to follow (or not): its rules for where a credential may go apply.
    redirect: "manual",
    signal: options.signal,
  });
  const type = response.headers.get("content-type")?.split(";")[0]?.trim();
  if (response.status !== 200 || type !== options.contentType || !response.body) {
    await response.body?.cancel();
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > MAX_BYTES) {
      await response.body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Splits git's pkt-lines; null when the data is not a whole sequence of them. */
function readPackets(data: Buffer): Packet[] | null {
  const packets: Packet[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (offset + 4 > data.length) return null;
    const header = data.toString("latin1", offset, offset + 4);
    if (!/^[0-9a-f]{4}$/.test(header)) return null;
    const length = Number.parseInt(header, 16);
    if (length === 0) packets.push(FLUSH);
    else if (length === 1) packets.push(DELIMITER);
    else if (length < 4 || offset + length > data.length) return null;
    else packets.push(data.subarray(offset + 4, offset + length));
    offset += Math.max(length, 4);
  }
  return packets;
}

function packet(text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, "0")), payload]);
}

/** A data packet's text without its newline; undefined for flush and delimiter packets. */
function textOf(packet: Packet | undefined): string | undefined {
  if (packet === undefined || typeof packet === "string") return undefined;
  const text = packet.toString("utf8");
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** Protocol v0/v1: `<oid> <ref>\0<capabilities>` first, then `<oid> <ref>`, then a flush. */
function fromAdvertisement(packets: Packet[]): RemoteHeads | null {
  const lines =
    packets[0] !== undefined && textOf(packets[0]) === "version 1" ? packets.slice(1) : packets;
  const end = lines.indexOf(FLUSH);
  if (end === -1 || end !== lines.length - 1) return null;
  const heads: RemoteHeads = { defaultBranch: null, branches: new Map() };
  let headTarget: string | null = null;
  for (const [index, line] of lines.slice(0, end).entries()) {
    const text = textOf(line);
    if (text === undefined) return null;
    const nul = text.indexOf("\0");
    if ((nul !== -1) !== (index === 0)) return null;
    const [id, name] = (nul === -1 ? text : text.slice(0, nul)).split(" ");
    if (id === undefined || name === undefined || !OBJECT_ID.test(id)) return null;
    if (index === 0) {
      const symref = text
        .slice(nul + 1)
        .split(" ")
        .find((capability) => capability.startsWith("symref=HEAD:"));
      headTarget = symref?.slice("symref=HEAD:".length) ?? null;
      // An empty repository advertises its capabilities on a placeholder line.
      if (name === "capabilities^{}" && /^0+$/.test(id)) continue;
    }
    if (name.startsWith("refs/heads/")) heads.branches.set(name.slice("refs/heads/".length), id);
  }
  heads.defaultBranch = branchOf(headTarget);
  return heads;
}

/** Protocol v2 `ls-refs` answer: `<oid> <ref>[ symref-target:<ref>]…` lines, then a flush. */
function fromLsRefs(packets: Packet[]): RemoteHeads | null {
  // Ends with its one flush: an empty or cut answer (a server refusing the command) is none.
  if (packets.length === 0 || packets.indexOf(FLUSH) !== packets.length - 1) return null;
  const heads: RemoteHeads = { defaultBranch: null, branches: new Map() };
  for (const line of packets.slice(0, -1)) {
    const text = textOf(line);
    if (text === undefined) return null;
    const [id, name, ...attributes] = text.split(" ");
    if (id === undefined || name === undefined || !OBJECT_ID.test(id)) return null;
    if (name === "HEAD") {
      const target = attributes.find((attribute) => attribute.startsWith("symref-target:"));
      heads.defaultBranch = branchOf(target?.slice("symref-target:".length) ?? null);
    } else if (name.startsWith("refs/heads/")) {
      heads.branches.set(name.slice("refs/heads/".length), id);
    }
  }
  return heads;
}

function branchOf(ref: string | null): string | null {
  return ref?.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null;
}
