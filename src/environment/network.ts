import { isIP } from "node:net";
import type { NetworkPolicy } from "../protocol/environment.ts";

/**
 * What each network level lets a sandbox reach, as sandbox-runtime's proxy enforces it. The
 * model gateway (`host:port` on loopback) is always allowed; everything here comes on top.
 *
 * `trusted` is the public package registries of the common ecosystems. The task's git host is
 * added read-only by the repository flow, not here: the agent never pushes (Omoi does).
 */
export const TRUSTED_HOSTS: Readonly<Record<string, readonly string[]>> = {
  npm: ["registry.npmjs.org", "registry.yarnpkg.com", "*.npmjs.org", "*.npmjs.com"],
  pypi: ["pypi.org", "files.pythonhosted.org", "*.pythonhosted.org"],
  crates: ["crates.io", "index.crates.io", "static.crates.io", "static.rust-lang.org"],
  go: ["proxy.golang.org", "sum.golang.org", "index.golang.org", "storage.googleapis.com"],
  rubygems: ["rubygems.org", "index.rubygems.org", "*.rubygems.org"],
  maven: ["repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org", "services.gradle.org"],
  debian: ["deb.debian.org", "security.debian.org", "*.debian.org"],
  ubuntu: ["archive.ubuntu.com", "security.ubuntu.com", "ports.ubuntu.com"],
};

export const TRUSTED_HOST_LIST: readonly string[] = Object.values(TRUSTED_HOSTS).flat();

/** How the proxy judges one phase: an allowlist, plus whether anything else may pass. */
export interface NetworkRules {
  /** Entries for sandbox-runtime's `allowedDomains` (host, `*.` wildcard, optional `:port`). */
  allowedDomains: string[];
  /** `full`: any host on the internet, except this machine and private networks. */
  open: boolean;
}

export function networkRules(policy: NetworkPolicy, gatewayHost: string): NetworkRules {
  const always = [gatewayHost];
  switch (policy.level) {
    case "none":
      return { allowedDomains: always, open: false };
    case "trusted":
      return { allowedDomains: [...always, ...TRUSTED_HOST_LIST], open: false };
    case "custom":
      return { allowedDomains: [...always, ...(policy.hosts ?? [])], open: false };
    case "full":
      return { allowedDomains: always, open: true };
  }
}

const LOCAL_NAMES =
  /^(localhost|localhost\.localdomain|ip6-localhost|ip6-loopback)$|\.localhost$|\.local$|\.internal$/i;

/**
 * Whether `full` lets a host through: the internet yes; this machine, link-local (cloud
 * metadata) and private networks never — they hold Omoi's API, its database, and the
 * operator's services. A custom list can still name such a host explicitly.
 */
export function openNetworkAllows(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (LOCAL_NAMES.test(bare)) return false;
  const version = isIP(bare);
  if (version === 4) return !privateIpv4(bare);
  if (version === 6) return !privateIpv6(bare);
  return bare.includes(".");
}

function privateIpv4(address: string): boolean {
  const [a, b] = address.split(".").map(Number);
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

function privateIpv6(address: string): boolean {
  if (address === "::" || address === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return privateIpv4(mapped[1]);
  const first = Number.parseInt(address.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

/** Whether one allowlist entry (`host`, `*.host`, `host:port`) lets `host:port` through. */
function entryAllows(entry: string, host: string, port: number): boolean {
  const match = /^(.*?)(?::(\d+))?$/.exec(entry.toLowerCase());
  const pattern = match?.[1] ?? "";
  if (match?.[2] !== undefined && Number(match[2]) !== port) return false;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host !== pattern.slice(2);
  return host === pattern;
}

/**
 * Whether a phase with this policy may reach `host:port` — the same judgement the sandbox's
 * proxy makes, used to refuse up front what could never connect (a remote MCP server).
 */
export function networkAllows(policy: NetworkPolicy, host: string, port: number): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  switch (policy.level) {
    case "none":
      return false;
    case "trusted":
      return TRUSTED_HOST_LIST.some((entry) => entryAllows(entry, bare, port));
    case "custom":
      return (policy.hosts ?? []).some((entry) => entryAllows(entry, bare, port));
    case "full":
      return openNetworkAllows(bare);
  }
}
