// Public surface of the Dojo client.
export {
  type DojoAccount,
  DojoAccounts,
  type DojoAccountsSource,
  DojoConfigError,
  keyFingerprint,
  loadDojoAccounts,
  loadDojoAccountsFromEnv,
} from "./accounts.ts";
export type { DojoObserver } from "./call.ts";
export { createDojoClient, type DojoClient, type DojoClientOptions } from "./client.ts";
export {
  DOJO_ERROR_CATALOGUE,
  type DojoError,
  type DojoErrorCode,
  type DojoErrorKind,
  type DojoResult,
  dojoError,
} from "./errors.ts";
export type {
  CaptureInput,
  CreatePaymentIntentInput,
  CreateRefundInput,
  CreateReversalInput,
  GetPaymentIntentInput,
  GetRefundInput,
} from "./inputs.ts";
export {
  DEFAULT_DOJO_API_VERSION,
  DOJO_API_VERSIONS,
  DOJO_LIMITS,
  PAYMENT_INTENT_ID_PATTERN,
  REFUND_ID_PATTERN,
} from "./limits.ts";
export {
  type Money,
  type PaymentIntent,
  paymentIntentSchema,
  type RefundableAmount,
  refundableAmount,
} from "./payment-intent.ts";
export { type ProblemDetails, parseProblem } from "./problem.ts";
export type { CreatedCapture, CreatedRefund, CreatedReversal, RetrievedRefund } from "./responses.ts";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
export { DEFAULT_TIMEOUTS, type DojoTimeouts } from "./transport.ts";
