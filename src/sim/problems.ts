// Error bodies as Dojo documents them: RFC 7807 problem details with `traceId` and, for validation
// failures, an `errors` map (field -> messages) at the top level.
import { randomBytes } from "node:crypto";

export interface SimReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  /** Content type; problem replies use application/problem+json. */
  readonly contentType?: string;
}

const TYPES: Record<number, string> = {
  400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
  401: "https://tools.ietf.org/html/rfc7235#section-3.1",
  403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
  404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
  405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
  409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
  429: "https://tools.ietf.org/html/rfc6585#section-4",
  500: "https://tools.ietf.org/html/rfc7231#section-6.6.1",
  502: "https://tools.ietf.org/html/rfc7231#section-6.6.3",
  503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
};

/** W3C trace-context shaped, like the traceId in Dojo's example problem. */
export function traceId(): string {
  const bytes = randomBytes(24).toString("hex");
  return `00-${bytes.slice(0, 32)}-${bytes.slice(32, 48)}-01`;
}

export function problem(
  status: number,
  title: string,
  detail?: string,
  errors?: Record<string, string[]>,
  headers?: Record<string, string>,
): SimReply {
  const body: Record<string, unknown> = { type: TYPES[status] ?? "about:blank", title, status };
  if (detail !== undefined) body.detail = detail;
  if (errors !== undefined) body.errors = errors;
  body.traceId = traceId();
  const reply: { status: number; body: unknown; contentType: string; headers?: Record<string, string> } = {
    status,
    body,
    contentType: "application/problem+json; charset=utf-8",
  };
  if (headers !== undefined) reply.headers = headers;
  return reply;
}

export function validationProblem(errors: Record<string, string[]>): SimReply {
  return problem(400, "One or more validation errors occurred.", undefined, errors);
}

export function ok(body: unknown): SimReply {
  return { status: 200, body };
}
