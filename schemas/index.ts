// Public API of the event contracts. Nothing here depends on the relay, so emitters can use it on its own.
export {
  type DecodeFailure,
  type DecodeOptions,
  type DecodeResult,
  type DecodeStage,
  decodeReturnApproved,
  type InboundMessage,
} from "./decode.ts";
export { FAILURE_CODE_DESCRIPTIONS, FAILURE_CODES, type FailureCode } from "./failure-codes.ts";
export {
  DEFAULT_IDEMPOTENCY_NAMESPACE,
  IDEMPOTENCY_NAMESPACE_PATTERN,
  type IdempotencyKeyOptions,
  idempotencyKeyFor,
  OUTCOME_ID_NAMESPACE,
  type OutcomeType,
  outcomeEventId,
  uuidV5,
} from "./identity.ts";
export type { Issue } from "./issues.ts";
export {
  CURRENCY_CODE_PATTERN,
  DEFAULT_MAX_MESSAGE_BYTES,
  FORBIDDEN_JSON_KEYS,
  LIMITS,
  MAX_HEADER_BYTES,
  MAX_JSON_DEPTH,
  MERCHANT_ID_PATTERN,
  METADATA_KEY_PATTERN,
  PAYMENT_INTENT_ID_PATTERN,
  RESERVED_METADATA_KEYS,
} from "./limits.ts";
export {
  buildRefundFailed,
  buildRefundSucceeded,
  type EncodedOutcome,
  encodeOutcome,
  type MoneyInput,
  normalizeProblem,
  type OutcomeEvent,
  type OutcomeMode,
  OutcomeValidationError,
  type ProblemInput,
  type RefundFailedInput,
  type RefundSucceededInput,
} from "./outcome.ts";
export {
  IDEMPOTENCY_KEY_PATTERN,
  type Problem,
  REFUND_METHODS,
  type RefundMethod,
  TRACEPARENT_PATTERN,
} from "./outcome-common.ts";
export { isRfc3339 } from "./primitives.ts";
export {
  REFUND_FAILED_TYPE,
  REFUND_FAILED_V1_DATASCHEMA,
  type RefundFailedData,
  RefundFailedDataV1,
  RefundFailedDataV1Emit,
  type RefundFailedEvent,
  RefundFailedEventV1,
  RefundFailedEventV1Emit,
} from "./refund-failed.v1.ts";
export {
  REFUND_SUCCEEDED_TYPE,
  REFUND_SUCCEEDED_V1_DATASCHEMA,
  type RefundSucceededData,
  RefundSucceededDataV1,
  RefundSucceededDataV1Emit,
  type RefundSucceededEvent,
  RefundSucceededEventV1,
  RefundSucceededEventV1Emit,
} from "./refund-succeeded.v1.ts";
export {
  RETURN_APPROVED_TYPE,
  RETURN_APPROVED_TYPES,
  RETURN_APPROVED_V1_DATASCHEMA,
  type ReturnApprovedData,
  ReturnApprovedDataV1,
  ReturnApprovedDataV1Emit,
  type ReturnApprovedEvent,
  ReturnApprovedEventV1,
  ReturnApprovedEventV1Emit,
} from "./return-approved.v1.ts";
