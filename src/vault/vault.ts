import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Seals secrets at rest (environment secrets, model and forge credentials) with AES-256-GCM
 * under a key derived from `OMOI_SECRET` by HKDF, one key per purpose. Replicas that share
 * `OMOI_SECRET` read each other's sealed values; a changed secret makes them unreadable
 * (opening fails loudly instead of returning garbage).
 */
export class Vault {
  private readonly key: Buffer;

  constructor(secret: string, purpose: string) {
    if (!secret) throw new Error("a vault needs a non-empty secret");
    this.key = Buffer.from(hkdfSync("sha256", secret, "omoi-vault", `omoi:${purpose}:v1`, 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url; a fresh IV every time. */
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return ["v1", iv, cipher.getAuthTag(), body].map(encode).join(".");
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split(".");
    if (version !== "v1" || iv === undefined || tag === undefined || body === undefined) {
      throw new Error("not a sealed value");
    }
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    try {
      const plain = Buffer.concat([
        decipher.update(Buffer.from(body, "base64url")),
        decipher.final(),
      ]);
      return plain.toString("utf8");
    } catch {
      throw new Error(
        "a sealed value cannot be opened: OMOI_SECRET changed or the value is corrupt",
      );
    }
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson(sealed: string): unknown {
    return JSON.parse(this.open(sealed));
  }
}

function encode(part: string | Buffer): string {
  return typeof part === "string" ? part : part.toString("base64url");
}
