// Dojo authentication as documented: `Authorization: Basic <secret key>` with the raw key (not base64),
// keys prefixed sk_sandbox_ or sk_prod_. Replies never echo the key; logs see only its fingerprint.
// A key can be revoked and restored at run time (a test route), as when an operator rotates or
// withdraws a key in Dojo's dashboard while a client is using it.
import { keyFingerprint } from "../dojo/accounts.ts";
import { problem, type SimReply } from "./problems.ts";

export type AuthResult =
  | { readonly ok: true; readonly account: string; readonly sandbox: boolean }
  | {
      readonly ok: false;
      readonly reply: SimReply;
      /** Fingerprint of a configured but revoked key, so the request log can still name the account. */
      readonly account?: string;
    };

export interface SimKeyStatus {
  readonly fingerprint: string;
  readonly revoked: boolean;
}

export class SimKeys {
  readonly #fingerprints = new Map<string, string>();
  /** Fingerprints of revoked keys. */
  readonly #revoked = new Set<string>();

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

  /** Every configured key by fingerprint (never the key itself), with whether it is revoked. */
  get status(): SimKeyStatus[] {
    return this.fingerprints.map((fingerprint) => ({ fingerprint, revoked: this.#revoked.has(fingerprint) }));
  }

  /**
   * The fingerprint of a configured key named by its raw value or by its fingerprint; undefined when
   * the simulator was not configured with it.
   */
  find(keyOrFingerprint: string): string | undefined {
    const byKey = this.#fingerprints.get(keyOrFingerprint);
    if (byKey !== undefined) return byKey;
    return this.fingerprints.includes(keyOrFingerprint) ? keyOrFingerprint : undefined;
  }

  /** Requests with the key get 401 until it is restored. Idempotency records stay with the account. */
  revoke(fingerprint: string): void {
    this.#revoked.add(fingerprint);
  }

  restore(fingerprint: string): void {
    this.#revoked.delete(fingerprint);
  }

  restoreAll(): void {
    this.#revoked.clear();
  }

  authenticate(authorization: string | undefined): AuthResult {
    if (authorization === undefined || authorization === "")
      return deny("The Authorization header is missing.");
    if (!authorization.startsWith("Basic ")) return deny("Use the Basic scheme followed by the secret key.");
    const key = authorization.slice(6);
    const account = this.#fingerprints.get(key);
    if (account !== undefined) {
      if (this.#revoked.has(account)) return { ...deny("The secret key is not valid."), account };
      return { ok: true, account, sandbox: key.startsWith("sk_sandbox_") };
    }
    if (looksLikeBase64Key(key))
      return deny("Send the raw secret key after 'Basic', not its base64 encoding.");
    if (!key.startsWith("sk_sandbox_") && !key.startsWith("sk_prod_")) {
      return deny("Secret keys start with sk_sandbox_ or sk_prod_.");
    }
    return deny("The secret key is not valid.");
  }
}

function deny(detail: string): { readonly ok: false; readonly reply: SimReply } {
  return { ok: false, reply: problem(401, "Unauthorized", detail) };
}

function looksLikeBase64Key(value: string): boolean {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return false;
  return Buffer.from(value, "base64").toString("utf8").startsWith("sk_");
}
