// Which Dojo secret key to use for which merchant. Dojo keys start with `sk_sandbox_` (sandbox) or
// `sk_prod_` (production); both environments share one host, so the key alone picks the environment.
// Keys live in private fields: JSON.stringify, util.inspect and pino all see only fingerprints.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { z } from "zod";

const KEY_PREFIXES = ["sk_sandbox_", "sk_prod_"] as const;
// Printable ASCII without spaces: anything else could split or corrupt the Authorization header.
const KEY_BODY = /^[\x21-\x7e]+$/;

export class DojoConfigError extends Error {
  override readonly name = "DojoConfigError";
}

/** A short, stable, non-reversible label for a key, safe to log. */
export function keyFingerprint(apiKey: string): string {
  return `key_${createHash("sha256").update(apiKey).digest("hex").slice(0, 12)}`;
}

/** Resolved credentials for one request; `fingerprint` names the connection pool and log lines. */
export interface DojoAccount {
  readonly fingerprint: string;
  readonly environment: "sandbox" | "production";
  /** The value for the Authorization header. Never log it. */
  authorization(): string;
}

export class DojoAccounts {
  readonly #defaultKey: string | undefined;
  readonly #byMerchant: ReadonlyMap<string, string>;
  readonly #resolved = new Map<string, DojoAccount>();

  constructor(defaultKey: string | undefined, byMerchant: ReadonlyMap<string, string> = new Map()) {
    if (defaultKey !== undefined) checkKey(defaultKey, "the default account");
    for (const [merchantId, key] of byMerchant) checkKey(key, `merchant "${merchantId}"`);
    if (defaultKey === undefined && byMerchant.size === 0) {
      throw new DojoConfigError("no Dojo API key configured: give a default key or a merchant mapping");
    }
    this.#defaultKey = defaultKey;
    this.#byMerchant = new Map(byMerchant);
  }

  /** The account for a merchant: its own key, else the default key, else undefined (unknown merchant). */
  resolve(merchantId?: string): DojoAccount | undefined {
    const key = (merchantId === undefined ? undefined : this.#byMerchant.get(merchantId)) ?? this.#defaultKey;
    if (key === undefined) return undefined;
    // Built once per key: hashing the fingerprint on every call showed up in profiles.
    let resolved = this.#resolved.get(key);
    if (resolved === undefined) {
      resolved = account(key);
      this.#resolved.set(key, resolved);
    }
    return resolved;
  }

  get merchantIds(): readonly string[] {
    return [...this.#byMerchant.keys()];
  }

  get hasDefault(): boolean {
    return this.#defaultKey !== undefined;
  }

  /** Replaces every configured key in `text` (defence in depth for messages built from foreign text). */
  scrub(text: string): string {
    let out = text;
    for (const key of this.#allKeys()) out = out.split(key).join("[redacted]");
    return out;
  }

  #allKeys(): string[] {
    const keys = [...this.#byMerchant.values()];
    if (this.#defaultKey !== undefined) keys.push(this.#defaultKey);
    return keys;
  }

  toJSON(): unknown {
    return {
      default: this.#defaultKey === undefined ? null : keyFingerprint(this.#defaultKey),
      merchants: Object.fromEntries([...this.#byMerchant].map(([m, k]) => [m, keyFingerprint(k)])),
    };
  }

  [inspect.custom](): string {
    return `DojoAccounts ${JSON.stringify(this.toJSON())}`;
  }
}

function account(key: string): DojoAccount {
  const fingerprint = keyFingerprint(key);
  const environment = key.startsWith("sk_prod_") ? "production" : "sandbox";
  const header = `Basic ${key}`;
  return {
    fingerprint,
    environment,
    authorization: () => header,
    toJSON: () => ({ fingerprint, environment }),
    [inspect.custom]: () => `DojoAccount(${fingerprint}, ${environment})`,
  } as DojoAccount;
}

function checkKey(key: string, where: string): void {
  const prefix = KEY_PREFIXES.find((p) => key.startsWith(p));
  if (prefix === undefined || key.length === prefix.length) {
    throw new DojoConfigError(`the API key for ${where} must start with sk_sandbox_ or sk_prod_`);
  }
  if (!KEY_BODY.test(key)) {
    throw new DojoConfigError(`the API key for ${where} contains whitespace or non-printable characters`);
  }
}

const accountsFileSchema = z.strictObject({
  default: z.string().optional(),
  merchants: z.record(z.string().min(1), z.string()).optional(),
});

export interface DojoAccountsSource {
  /** The single default key. */
  readonly apiKey?: string | undefined;
  /** A file holding only the default key (trailing newline ignored), e.g. a mounted secret. */
  readonly apiKeyFile?: string | undefined;
  /** `{"default"?: "sk_...", "merchants"?: {"<merchantId>": "sk_..."}}` */
  readonly accountsJson?: string | undefined;
  /** A file with the same JSON document as `accountsJson`. */
  readonly accountsFile?: string | undefined;
}

/** Builds the account set; throws DojoConfigError (never quoting a key) when anything is off. */
export function loadDojoAccounts(source: DojoAccountsSource): DojoAccounts {
  let defaultKey = source.apiKey;
  if (source.apiKeyFile !== undefined) {
    if (defaultKey !== undefined) throw new DojoConfigError("give either apiKey or apiKeyFile, not both");
    defaultKey = readSecretFile(source.apiKeyFile).trim();
  }
  if (source.accountsJson !== undefined && source.accountsFile !== undefined) {
    throw new DojoConfigError("give either accountsJson or accountsFile, not both");
  }
  const text = source.accountsFile !== undefined ? readSecretFile(source.accountsFile) : source.accountsJson;
  const merchants = new Map<string, string>();
  if (text !== undefined) {
    const doc = parseAccountsDocument(text);
    if (doc.default !== undefined) {
      if (defaultKey !== undefined) throw new DojoConfigError("the default key is given twice");
      defaultKey = doc.default;
    }
    for (const [merchantId, key] of Object.entries(doc.merchants ?? {})) merchants.set(merchantId, key);
  }
  return new DojoAccounts(defaultKey, merchants);
}

/** Reads DOJO_API_KEY, DOJO_API_KEY_FILE, DOJO_ACCOUNTS_JSON and DOJO_ACCOUNTS_FILE. */
export function loadDojoAccountsFromEnv(env: NodeJS.ProcessEnv = process.env): DojoAccounts {
  return loadDojoAccounts({
    apiKey: nonEmpty(env.DOJO_API_KEY),
    apiKeyFile: nonEmpty(env.DOJO_API_KEY_FILE),
    accountsJson: nonEmpty(env.DOJO_ACCOUNTS_JSON),
    accountsFile: nonEmpty(env.DOJO_ACCOUNTS_FILE),
  });
}

function parseAccountsDocument(text: string): z.infer<typeof accountsFileSchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message may quote the text, which holds keys: report only the fact.
    throw new DojoConfigError("the Dojo accounts document is not valid JSON");
  }
  const parsed = accountsFileSchema.safeParse(json);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.join(".") || "(root)");
    throw new DojoConfigError(
      `the Dojo accounts document must be {"default"?: key, "merchants"?: {merchantId: key}}; problems at: ${paths.join(", ")}`,
    );
  }
  return parsed.data;
}

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new DojoConfigError(`cannot read Dojo secrets file ${path} (${code})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
