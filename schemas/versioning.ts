// How a CloudEvent names the version of its data. `type` carries the event name (`return.approved`), and the
// major version travels in `dataschema`; `return.approved.v1` is accepted as a type too, for producers that
// version the type instead. Only major versions exist: compatible changes keep the version.

/** Matches a trailing major version in a dataschema URI: `…:v1`, `…/v1`, `….v1.json`, `…/v1.schema.json`. */
const TRAILING_VERSION = /[/:.]v(\d{1,4})(?:\.schema)?(?:\.json)?$/;

export function dataschemaUri(eventType: string, version: number): string {
  return `urn:refund-relay:schema:${eventType}:v${version}`;
}

/**
 * The major version a dataschema URI names, or undefined when it names none (an opaque registry URL, which
 * is accepted as version 1 so producers are not forced to adopt our URN).
 */
export function dataschemaVersion(uri: string): number | undefined {
  const m = TRAILING_VERSION.exec(uri);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The major version a CloudEvents type names for `name`: 1 for `name` itself, N for `name.vN`. */
export function typeVersion(type: string, name: string): number | undefined {
  if (type === name) return undefined;
  if (!type.startsWith(`${name}.v`)) return undefined;
  const rest = type.slice(name.length + 2);
  return /^\d{1,4}$/.test(rest) ? Number(rest) : undefined;
}
