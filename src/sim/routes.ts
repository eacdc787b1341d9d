// Dojo's paths, matched without a router library: the simulator must stay cheap per request.

export const DOJO_ROUTES = [
  "createPaymentIntent",
  "getPaymentIntent",
  "capture",
  "createRefund",
  "getRefund",
  "createReversal",
] as const;

export type DojoRoute = (typeof DOJO_ROUTES)[number];

export type RouteMatch =
  | { readonly kind: "route"; readonly route: DojoRoute; readonly id?: string }
  | { readonly kind: "bad-id" }
  | { readonly kind: "method-not-allowed" }
  | { readonly kind: "not-found" };

export function matchDojoRoute(method: string, pathname: string): RouteMatch {
  const parts = pathname.split("/");
  // parts[0] is "" because the path starts with "/".
  if (parts[1] !== "payment-intents" || parts.length > 4) return { kind: "not-found" };
  const expect = (wanted: string, route: DojoRoute, raw?: string): RouteMatch => {
    if (method !== wanted) return { kind: "method-not-allowed" };
    if (raw === undefined) return { kind: "route", route };
    const id = decode(raw);
    return id === undefined || id === "" ? { kind: "bad-id" } : { kind: "route", route, id };
  };
  if (parts.length === 2) return expect("POST", "createPaymentIntent");
  if (parts.length === 3) return expect("GET", "getPaymentIntent", parts[2]);
  const [, , second, third] = parts;
  if (second === "refunds" && third !== "") return expect("GET", "getRefund", third);
  if (third === "refunds") return expect("POST", "createRefund", second);
  if (third === "captures") return expect("POST", "capture", second);
  if (third === "reversal") return expect("POST", "createReversal", second);
  return { kind: "not-found" };
}

function decode(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
