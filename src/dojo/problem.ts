// RFC 7807 problem details as Dojo sends them. The spec lists type/title/status/detail/instance, while
// the API introduction shows `traceId` and an `errors` map at the top level (ASP.NET Core style), so
// both are read from the top level and anything else is kept but not relied on.
import { z } from "zod";

const problemSchema = z.looseObject({
  type: z.string().nullish(),
  title: z.string().nullish(),
  status: z.number().int().nullish(),
  detail: z.string().nullish(),
  instance: z.string().nullish(),
  traceId: z.string().nullish(),
  errors: z.record(z.string(), z.array(z.string())).nullish(),
});

export interface ProblemDetails {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly traceId?: string;
  readonly errors?: Readonly<Record<string, readonly string[]>>;
}

const MAX_TEXT = 2048;

/** Parses a problem document; returns undefined for bodies that are not one (HTML, empty, arrays...). */
export function parseProblem(contentType: string | undefined, bodyText: string): ProblemDetails | undefined {
  if (!isJsonMediaType(contentType) || bodyText.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  const parsed = problemSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const p = parsed.data;
  const out: {
    type?: string;
    title?: string;
    status?: number;
    detail?: string;
    instance?: string;
    traceId?: string;
    errors?: Record<string, string[]>;
  } = {};
  if (typeof p.type === "string") out.type = clip(p.type);
  if (typeof p.title === "string") out.title = clip(p.title);
  if (typeof p.status === "number") out.status = p.status;
  if (typeof p.detail === "string") out.detail = clip(p.detail);
  if (typeof p.instance === "string") out.instance = clip(p.instance);
  if (typeof p.traceId === "string") out.traceId = clip(p.traceId);
  if (p.errors) out.errors = p.errors;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** `application/json`, `application/problem+json` and any other `+json` type, with parameters. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
