// The building blocks of configuration, shared by the core's settings (config.ts) and each transport's
// own settings (consumers/<transport>/config.ts): value parsers, the Secret holder, and the shape of a
// transport's settings fragment. Kept apart from config.ts so a transport's fragment can use them
// without importing the module that composes it.
import { inspect } from "node:util";
import { z } from "zod";

/** Holds a secret so that logging, JSON-encoding or inspecting a config object never shows it. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return "[redacted]";
  }
  toString(): string {
    return "[redacted]";
  }
  [inspect.custom](): string {
    return "Secret([redacted])";
  }
}

/**
 * What a variable's schema says about it beyond parsing, attached with zod's `.meta({...})` where the
 * variable is declared: the README's configuration table is generated from it (src/config-docs.ts).
 * The value parsers below fill in `default`, `range` and `values`; the declaration adds the rest.
 */
export interface VariableMeta {
  /** One or a few sentences: what the setting does, in the README's words. Required on every variable. */
  readonly description?: string;
  /** The unit of a number: "ms", "s", "days", "bytes". */
  readonly unit?: string;
  /** An example value, shown as such (never a real secret). */
  readonly example?: string;
  /** What the value looks like when neither `values` nor `range` says it ("URL", "path", ...). */
  readonly format?: string;
  /** The value is a secret: kept out of logs; a config file holding it should be readable by its owner only. */
  readonly secret?: boolean;
  /** Shown instead of the default when the effective default is computed or conditional. */
  readonly defaultText?: string;
  /** The value an unset (or blank) variable takes, as it would be written in the environment. */
  readonly default?: string;
  /** The inclusive range of an integer. */
  readonly range?: readonly [number, number];
  /** The values accepted, when they are a closed list. */
  readonly values?: readonly string[];
}

export const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1" || v === "yes"))
    .meta({ default: String(fallback), values: ["true", "false"] } satisfies VariableMeta);

export const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    })
    .meta({ default: String(fallback), range: [min, max] } satisfies VariableMeta);

export const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? fallback : v.trim()))
    .meta({ default: fallback } satisfies VariableMeta);

export const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

/** Reads a file named by a variable; a file that cannot be read is reported as a problem of it. */
export type TryRead = (variable: string, path: string | undefined) => string | undefined;

/** What a transport's fragment gets besides its own variables. */
export interface FragmentContext {
  /** Every problem found, named by its variable; nothing starts while one is listed. */
  readonly problems: string[];
  readonly tryRead: TryRead;
}

/**
 * One transport's part of the configuration: the RELAY_SOURCE value that selects it, its environment
 * variables (each checked on its own, like the core's), and the settings built from them. Only the
 * selected transport's variables are read.
 */
export interface TransportFragment<Shape extends z.ZodRawShape, Settings> {
  readonly source: string;
  readonly variables: z.ZodObject<Shape>;
  settings(values: z.output<z.ZodObject<Shape>>, ctx: FragmentContext): Settings;
}

/**
 * Each variable is checked on its own, so one bad value does not hide the others or the checks across
 * variables; a variable that fails takes its default for those checks.
 */
export function parseVariables<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  env: Readonly<Record<string, string | undefined>>,
  names: ReadonlyArray<keyof Shape & string>,
  problems: string[],
): z.output<z.ZodObject<Shape>> {
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const variable = schema.shape[name] as z.ZodType;
    const result = variable.safeParse(env[name]);
    if (result.success) {
      values[name] = result.data;
    } else {
      for (const issue of result.error.issues) problems.push(`${name}: ${issue.message}`);
      values[name] = variable.safeParse(undefined).data;
    }
  }
  return values as z.output<z.ZodObject<Shape>>;
}

/**
 * A variable's documentation: the metadata of its schema and of the schemas it is built from (a
 * default's inner enum, a pipe's input), the outermost winning.
 */
export function metaOf(schema: z.ZodType): VariableMeta {
  let inner: VariableMeta = {};
  if (schema instanceof z.ZodPipe) {
    inner = metaOf(schema.in as z.ZodType);
  } else if (schema instanceof z.ZodDefault) {
    inner = { ...metaOf(schema.unwrap() as z.ZodType), default: String(schema.def.defaultValue) };
  } else if (schema instanceof z.ZodOptional) {
    inner = metaOf(schema.unwrap() as z.ZodType);
  } else if (schema instanceof z.ZodEnum) {
    inner = { values: schema.options.map(String) };
  }
  return { ...inner, ...((schema.meta() ?? {}) as VariableMeta) };
}

/** Every variable of a schema, in its order. */
export function variablesOf<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
): Array<keyof Shape & string> {
  return Object.keys(schema.shape) as Array<keyof Shape & string>;
}
