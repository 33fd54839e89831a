import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  networkAllows,
  networkRules,
  openNetworkAllows,
  TRUSTED_HOST_LIST,
} from "../../src/environment/network.ts";

const GATEWAY = "127.0.0.1:41234";

describe("network levels", () => {
  test("none reaches only the model gateway; custom adds exactly its hosts", () => {
    assert.deepEqual(networkRules({ level: "none" }, GATEWAY), {
      allowedDomains: [GATEWAY],
      open: false,
    });
    assert.deepEqual(
      networkRules({ level: "custom", hosts: ["*.corp.example", "pkg.example.com:8443"] }, GATEWAY),
      { allowedDomains: [GATEWAY, "*.corp.example", "pkg.example.com:8443"], open: false },
    );
  });

  test("trusted is the public registries of the common ecosystems, and nothing local", () => {
    const rules = networkRules({ level: "trusted" }, GATEWAY);
    for (const host of [
      "registry.npmjs.org",
      "pypi.org",
      "files.pythonhosted.org",
      "crates.io",
      "proxy.golang.org",
      "rubygems.org",
      "repo.maven.apache.org",
      "deb.debian.org",
      "archive.ubuntu.com",
    ]) {
      assert.ok(rules.allowedDomains.includes(host), host);
    }
    assert.equal(rules.open, false);
    assert.ok(
      TRUSTED_HOST_LIST.every((host) => !/localhost|^127\.|^10\.|^192\.168\./.test(host)),
      "no local host is trusted",
    );
  });

  test("full opens the internet but never this machine, link-local or private networks", () => {
    assert.deepEqual(networkRules({ level: "full" }, GATEWAY), {
      allowedDomains: [GATEWAY],
      open: true,
    });
    for (const host of ["example.com", "api.github.com", "8.8.8.8", "[2606:4700::1111]"]) {
      assert.equal(openNetworkAllows(host), true, host);
    }
    for (const host of [
      "localhost",
      "LOCALHOST",
      "omoi.localhost",
      "printer.local",
      "metadata.google.internal",
      "127.0.0.1",
      "127.1.2.3",
      "0.0.0.0",
      "10.0.0.5",
      "172.16.3.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "::1",
      "[::1]",
      "::ffff:127.0.0.1",
      "fe80::1",
      "fd00::1",
      "intranet",
    ]) {
      assert.equal(openNetworkAllows(host), false, host);
    }
  });
  test("networkAllows judges a host:port as the proxy does, for each level", () => {
    assert.equal(networkAllows({ level: "none" }, "example.com", 443), false);
    assert.equal(networkAllows({ level: "trusted" }, "registry.npmjs.org", 443), true);
    assert.equal(networkAllows({ level: "trusted" }, "mcp.example.com", 443), false);
    const custom = { level: "custom" as const, hosts: ["*.corp.example", "mcp.example.com:8443"] };
    assert.equal(networkAllows(custom, "a.corp.example", 80), true);
    assert.equal(
      networkAllows(custom, "corp.example", 80),
      false,
      "a wildcard means strict subdomains",
    );
    assert.equal(networkAllows(custom, "mcp.example.com", 8443), true);
    assert.equal(
      networkAllows(custom, "mcp.example.com", 443),
      false,
      "a port names that port only",
    );
    assert.equal(networkAllows({ level: "full" }, "mcp.example.com", 443), true);
    assert.equal(networkAllows({ level: "full" }, "127.0.0.1", 8080), false);
  });
});
