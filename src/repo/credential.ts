/**
 * How Omoi's git proves who it is to a remote. The credential rides in the environment of
 * Omoi's own git process as configuration (GIT_CONFIG_COUNT/KEY/VALUE), scoped to the
 * remote's origin, so it is never written to disk, never on a command line, and never in
 * a folder an agent can read.
 */
export type GitCredential =
  | { kind: "token"; token: string; username?: string }
  | { kind: "basic"; username: string; password: string };

/** Secrets a credential holds, for redaction. */
export function credentialSecrets(credential: GitCredential | null): string[] {
  if (!credential) return [];
  const basic = basicPair(credential);
  const encoded = Buffer.from(`${basic.username}:${basic.password}`).toString("base64");
  return [basic.password, encoded].filter((secret) => secret.length >= 4);
}

function basicPair(credential: GitCredential): { username: string; password: string } {
  if (credential.kind === "basic") return credential;
  // GitHub and most forges take a token as the password of any user name over HTTPS.
  return { username: credential.username ?? "x-access-token", password: credential.token };
}

/** Environment that hands `credential` to git for requests to `url`'s origin only. */
export function credentialEnvironment(
  url: string,
  credential: GitCredential | null,
): Record<string, string> {
  if (!credential) return {};
  const origin = new URL(url).origin;
  return {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: `http.${origin}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: ${basicAuthorization(credential)}`,
  };
}

/** The `Authorization` header value that presents `credential` over HTTPS. */
export function basicAuthorization(credential: GitCredential): string {
  const pair = basicPair(credential);
  return `Basic ${Buffer.from(`${pair.username}:${pair.password}`).toString("base64")}`;
}

/** Replaces every secret of `credential` in `text` (defence in depth before logging). */
export function redact(text: string, credential: GitCredential | null): string {
  let result = text;
  for (const secret of credentialSecrets(credential)) result = result.split(secret).join("***");
  return result;
}
