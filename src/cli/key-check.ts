// The start-up check of every configured Dojo key: one harmless read per key (a payment intent that
// does not exist). A 401 or 403 means the key is wrong, revoked or lacks permission; starting anyway
// would leave every return waiting, so the relay refuses to start. Anything else (404, a network
// failure, a 5xx) says nothing against the key: the relay starts and the run-time checks take over.
import type { DojoClient } from "../dojo/index.ts";
import type { Logger } from "../logger.ts";

/** Thrown when Dojo rejects a configured key at start-up; the message names the account, not the key. */
export class DojoKeyRejectedError extends Error {
  override readonly name = "DojoKeyRejectedError";
}

/** A payment intent id no real intent has; reading it is harmless and answers 404 to a good key. */
export const KEY_CHECK_INTENT = "pi_refund_relay_key_check";

export async function checkDojoKeys(
  dojo: Pick<DojoClient, "getPaymentIntent">,
  accounts: { readonly hasDefault: boolean; readonly merchantIds: readonly string[] },
  logger: Logger,
): Promise<void> {
  const targets: Array<{ label: string; merchantId?: string }> = [];
  if (accounts.hasDefault) targets.push({ label: "the default account (DOJO_API_KEY)" });
  for (const merchantId of accounts.merchantIds)
    targets.push({ label: `merchant "${merchantId}"`, merchantId });
  const rejected: string[] = [];
  await Promise.all(
    targets.map(async ({ label, merchantId }) => {
      const result = await dojo.getPaymentIntent({
        paymentIntentId: KEY_CHECK_INTENT,
        ...(merchantId === undefined ? {} : { merchantId }),
      });
      if (result.ok) return;
      const { code, status } = result.error;
      if (code === "unauthorized" || code === "forbidden") {
        rejected.push(`${label}: Dojo answered ${status ?? code} (${code})`);
      } else if (code !== "not_found") {
        logger.warn(
          { account: label, code, status },
          "could not check a Dojo key at start-up; starting anyway",
        );
      }
    }),
  );
  if (rejected.length > 0) {
    throw new DojoKeyRejectedError(
      `Dojo rejected the configured API key for ${rejected.join("; ")}. Check the key (sandbox keys start with sk_sandbox_, production keys with sk_prod_) and that it belongs to this environment.`,
    );
  }
}
