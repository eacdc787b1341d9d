// Dojo authentication as documented: `Authorization: Basic <secret key>` with the raw key (not base64),
// keys prefixed sk_sandbox_ or sk_prod_. Replies never echo the key; logs see only its fingerprint.
import { keyFingerprint } from "../dojo/accounts.ts";
import { problem, type SimReply } from "./problems.ts";

export type AuthResult =
  | { readonly ok: true; readonly account: string; readonly sandbox: boolean }
  | { readonly ok: false; readonly reply: SimReply };

export class SimKeys {
  readonly #fingerprints = new Map<string, string>();

  constructor(keys: readonly string[]) {
    for (const key of keys) {
      if (!/^sk_(sandbox|prod)_[\x21-\x7e]+$/.test(key)) {
        throw new Error("simulator API keys must start with sk_sandbox_ or sk_prod_");
      }
      this.#fingerprints.set(key, keyFingerprint(key));
    }
  }

  get fingerprints(): string[] {
    return [...this.#fingerprints.values()];
  }

  authenticate(authorization: string | undefined): AuthResult {
    if (authorization === undefined || authorization === "")
      return deny("The Authorization header is missing.");
    if (!authorization.startsWith("Basic ")) return deny("Use the Basic scheme followed by the secret key.");
    const key = authorization.slice(6);
    const account = this.#fingerprints.get(key);
    if (account !== undefined) return { ok: true, account, sandbox: key.startsWith("sk_sandbox_") };
    if (looksLikeBase64Key(key))
      return deny("Send the raw secret key after 'Basic', not its base64 encoding.");
    if (!key.startsWith("sk_sandbox_") && !key.startsWith("sk_prod_")) {
      return deny("Secret keys start with sk_sandbox_ or sk_prod_.");
    }
    return deny("The secret key is not valid.");
  }
}

function deny(detail: string): AuthResult {
  return { ok: false, reply: problem(401, "Unauthorized", detail) };
}

function looksLikeBase64Key(value: string): boolean {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return false;
  return Buffer.from(value, "base64").toString("utf8").startsWith("sk_");
}
