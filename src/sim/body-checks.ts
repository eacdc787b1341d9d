// Request bodies checked the way Dojo's published schema describes them: additionalProperties false,
// integer (int64) amounts, string length limits, nullable optional strings.
import { DOJO_LIMITS } from "../dojo/limits.ts";

export type FieldErrors = Record<string, string[]>;

type Rule = (value: unknown) => string | undefined;

const int64: Rule = (v) =>
  typeof v === "number" && Number.isSafeInteger(v) ? undefined : "must be an integer";
const nullableInt64: Rule = (v) => (v === null ? undefined : int64(v));
const nullableString =
  (max: number): Rule =>
  (v) => {
    if (v === null) return undefined;
    if (typeof v !== "string") return "must be a string or null";
    return v.length > max ? `must be at most ${max} characters` : undefined;
  };
const anything: Rule = () => undefined;

interface ObjectSchema {
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, Rule>>;
}

function checkObject(body: unknown, schema: ObjectSchema, prefix = ""): FieldErrors {
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => {
    const key = prefix + field;
    const list = errors[key] ?? [];
    list.push(message);
    errors[key] = list;
  };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    add("$", "the body must be a JSON object");
    return errors;
  }
  const record = body as Record<string, unknown>;
  for (const field of schema.required) if (record[field] === undefined) add(field, "is required");
  for (const [field, value] of Object.entries(record)) {
    const rule = schema.properties[field];
    if (rule === undefined) {
      add(field, "is not a known property");
      continue;
    }
    const message = rule(value);
    if (message !== undefined) add(field, message);
  }
  return errors;
}

export const createRefundSchema: ObjectSchema = {
  required: ["amount"],
  properties: {
    amount: int64,
    refundReason: nullableString(DOJO_LIMITS.refundReasonMax),
    notes: nullableString(DOJO_LIMITS.notesMax),
    previousTransactionId: nullableString(DOJO_LIMITS.previousTransactionIdMax),
  },
};

export const captureSchema: ObjectSchema = {
  required: ["amount"],
  properties: { amount: int64, tipsAmount: nullableInt64 },
};

const moneySchema: ObjectSchema = {
  required: ["value", "currencyCode"],
  properties: {
    value: int64,
    currencyCode: (v) =>
      typeof v === "string" && v.length >= 1 && v.length <= DOJO_LIMITS.currencyCodeMax
        ? undefined
        : "must be 1 to 10 characters",
  },
};

// Every property of CreatePaymentIntentRequest is known; the simulator models only a few and accepts
// the rest untouched, so a real request body is not refused for fields we ignore.
const IGNORED_INTENT_FIELDS = [
  "tipsAmount",
  "customer",
  "billingAddress",
  "shippingDetails",
  "cardHolderNotPresent",
  "config",
  "requestSecurity",
  "itemLines",
  "taxLines",
  "paymentMethods",
  "actionLink",
  "expireAt",
  "autoExpireIn",
  "autoExpireAction",
  "metadata",
  "setupIntentId",
  "orderDetails",
  "cashbackAmount",
  "serviceChargeAmount",
  "generateRemoteToken",
  "isNotOnlineCheckout",
];

export const createPaymentIntentSchema: ObjectSchema = {
  required: ["amount", "reference"],
  properties: {
    amount: (v) => {
      const errors = checkObject(v, moneySchema);
      const first = Object.entries(errors)[0];
      return first === undefined ? undefined : `${first[0]} ${first[1][0]}`;
    },
    reference: (v) =>
      typeof v === "string" && v.length >= DOJO_LIMITS.referenceMin && v.length <= DOJO_LIMITS.referenceMax
        ? undefined
        : "must be 1 to 60 characters",
    captureMode: (v) => (v === "Auto" || v === "Manual" ? undefined : "must be Auto or Manual"),
    description: nullableString(DOJO_LIMITS.descriptionMax),
    ...Object.fromEntries(IGNORED_INTENT_FIELDS.map((f) => [f, anything])),
  },
};

export function checkBody(body: unknown, schema: ObjectSchema): FieldErrors | undefined {
  const errors = checkObject(body, schema);
  return Object.keys(errors).length === 0 ? undefined : errors;
}
