// The answers of refund_relay_apply as ledger results. Rows come back with the columns of the SQLite
// ledger's rows, so both backends turn them into entries with the same code.

import { toEntry } from "./sqlite.ts";
import type { Row } from "./sqlite-store.ts";
import type {
  AuditRecord,
  BeginResult,
  IntentLease,
  LeaseClaim,
  LedgerEntry,
  LedgerState,
  SettleResult,
  Transition,
} from "./types.ts";

type StoredTransition =
  | { readonly ok: true; readonly row: Row }
  | { readonly ok: false; readonly row: Row; readonly reason: string; readonly lease_lost?: boolean };

interface LeaseRow {
  readonly payment_intent_id: string;
  readonly owner: string;
  readonly token: number;
  readonly expires_at: number;
}

interface AuditRow {
  readonly source: string;
  readonly event_id: string;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  readonly previous_state: LedgerState;
  readonly new_state: LedgerState;
}

export function toTransition(value: unknown): Transition {
  const t = value as StoredTransition;
  if (t.ok) return { ok: true, entry: toEntry(t.row) };
  const refused = { ok: false as const, entry: toEntry(t.row), reason: t.reason };
  return t.lease_lost === true ? { ...refused, leaseLost: true } : refused;
}

export function toBegin(value: unknown): BeginResult {
  const b = value as { kind: "new" | "existing" | "conflict"; row: Row; reason?: "content" | "key" };
  if (b.kind === "conflict")
    return { kind: "conflict", entry: toEntry(b.row), reason: b.reason ?? "content" };
  return { kind: b.kind, entry: toEntry(b.row) };
}

export function toSettle(value: unknown): SettleResult {
  const s = value as { kind: SettleResult["kind"]; row: Row; previous?: string | null };
  if (s.kind === "corrected") {
    const previous =
      s.previous === null || s.previous === undefined ? null : (JSON.parse(s.previous) as unknown);
    return { kind: "corrected", entry: toEntry(s.row), previous };
  }
  return { kind: s.kind, entry: toEntry(s.row) };
}

export function toEntryOrUndefined(value: unknown): LedgerEntry | undefined {
  return value === null || value === undefined ? undefined : toEntry(value as Row);
}

export function toEntries(value: unknown): LedgerEntry[] {
  return (value as Row[]).map(toEntry);
}

export function toRowEntry(value: unknown): LedgerEntry {
  return toEntry(value as Row);
}

export function toLease(row: LeaseRow): IntentLease {
  return {
    paymentIntentId: row.payment_intent_id,
    owner: row.owner,
    token: Number(row.token),
    expiresAt: new Date(Number(row.expires_at)),
  };
}

export function toClaim(value: unknown): LeaseClaim {
  const c = value as { ok: true; lease: LeaseRow } | { ok: false; holder: string; expires_at: number };
  return c.ok
    ? { ok: true, lease: toLease(c.lease) }
    : { ok: false, holder: c.holder, expiresAt: new Date(Number(c.expires_at)) };
}

export function toLeases(value: unknown): IntentLease[] {
  return (value as LeaseRow[]).map(toLease);
}

export function toAudit(value: unknown): AuditRecord[] {
  return (value as AuditRow[]).map((r) => ({
    source: r.source,
    eventId: r.event_id,
    at: new Date(Number(r.at)),
    actor: r.actor,
    action: r.action,
    reason: r.reason,
    previousState: r.previous_state,
    newState: r.new_state,
  }));
}
