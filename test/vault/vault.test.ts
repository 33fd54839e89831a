import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Vault } from "../../src/vault/vault.ts";

describe("vault", () => {
  it("seals a value so that only the same secret and purpose open it", () => {
    const vault = new Vault("a-server-secret", "environments");
    const sealed = vault.seal("hunter2-very-secret");
    assert.ok(!sealed.includes("hunter2"));
    assert.notEqual(vault.seal("hunter2-very-secret"), sealed, "a fresh IV every time");
    assert.equal(vault.open(sealed), "hunter2-very-secret");
    assert.equal(new Vault("a-server-secret", "environments").open(sealed), "hunter2-very-secret");
    assert.throws(() => new Vault("another-secret", "environments").open(sealed), /OMOI_SECRET/);
    assert.throws(() => new Vault("a-server-secret", "repositories").open(sealed), /OMOI_SECRET/);
  });

  it("refuses a tampered or malformed value instead of returning garbage", () => {
    const vault = new Vault("a-server-secret", "environments");
    const [version, iv, tag, body] = vault.seal("some value").split(".");
    const flipped = Buffer.from(body, "base64url");
    flipped[0] ^= 1;
    assert.throws(() => vault.open([version, iv, tag, flipped.toString("base64url")].join(".")));
    assert.throws(() => vault.open("plain text"), /not a sealed value/);
    assert.deepEqual(vault.openJson(vault.sealJson({ a: [1, "two"] })), { a: [1, "two"] });
  });
});
