/**
 * The compatibility guard for events (issue 18 item 4): compares the event
 * contracts in two AsyncAPI documents — the committed docs/asyncapi.json
 * and the one the code makes now — the way a schema registry's
 * compatibility check would, and lists every breaking change: an event type
 * removed or moved to another topic or key, a payload field removed or
 * retyped, a new required field (or an optional one made required), an
 * enum narrowed, a bound tightened (a lower maximum or maxLength, a higher
 * minimum, a new format or pattern). Additive changes (new event types, new
 * optional fields, new enum values, looser bounds) pass.
 *
 * @module
 */
import { payloadSchemaName } from "./asyncapi.ts";

type Json = Record<string, unknown>;

/** One event type as a consumer depends on it. */
export interface EventView {
  topic: string;
  key: string;
  payload: Json;
}

const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? v as Json : {});

/** The event types of an AsyncAPI document (messages with a publisher), by type. */
export function eventViewsOf(doc: Json): Record<string, EventView> {
  const components = obj(doc.components);
  const messages = obj(components.messages);
  const schemas = obj(components.schemas);
  const topicOf = new Map<string, string>();
  for (const [topic, ch] of Object.entries(obj(doc.channels))) {
    for (const name of Object.keys(obj(obj(ch).messages))) topicOf.set(name, topic);
  }
  const views: Record<string, EventView> = {};
  for (const [type, m] of Object.entries(messages)) {
    if (obj(m)["x-publisher"] === undefined) continue;
    views[type] = {
      topic: topicOf.get(type) ?? "",
      key: String(obj(obj(obj(obj(m).bindings).kafka).key).description ?? ""),
      payload: obj(schemas[payloadSchemaName(type)]),
    };
  }
  return views;
}

/** The JSON types a schema allows (a nullable field is `anyOf` with `null`). */
function typesOf(s: Json): string[] {
  if (Array.isArray(s.anyOf)) return [...new Set(s.anyOf.flatMap((b) => typesOf(obj(b))))].sort();
  if (Array.isArray(s.type)) return [...s.type as string[]].sort();
  return typeof s.type === "string" ? [s.type] : [];
}

/** The branch that is not `null`, where a schema is nullable. */
function core(s: Json): Json {
  if (!Array.isArray(s.anyOf)) return s;
  return obj(s.anyOf.find((b) => obj(b).type !== "null") ?? {});
}

/** Bounds a value must now keep that it need not before: a lower maximum, a higher minimum. */
function tightenedBounds(b: Json, a: Json, at: string): string[] {
  const out: string[] = [];
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  for (const k of ["maximum", "exclusiveMaximum", "maxLength", "maxItems"]) {
    const [was, is] = [num(b[k]), num(a[k])];
    if (is !== undefined && (was === undefined || is < was)) {
      out.push(`${at} ${k} lowered to ${is}`);
    }
  }
  for (const k of ["minimum", "exclusiveMinimum", "minLength", "minItems"]) {
    const [was, is] = [num(b[k]), num(a[k])];
    if (is !== undefined && (was === undefined || is > was)) out.push(`${at} ${k} raised to ${is}`);
  }
  for (const k of ["format", "pattern"]) {
    if (a[k] !== undefined && a[k] !== b[k]) out.push(`${at} ${k} added or changed`);
  }
  return out;
}

function schemaBreaks(before: Json, after: Json, at: string): string[] {
  const was = typesOf(before).join("|");
  const is = typesOf(after).join("|");
  if (was !== is) return [`${at} retyped from ${was || "any"} to ${is || "any"}`];
  const [b, a] = [core(before), core(after)];
  const out: string[] = [];
  if (Array.isArray(b.enum) || Array.isArray(a.enum)) {
    const allowed = new Set(Array.isArray(a.enum) ? a.enum : []);
    const lost = Array.isArray(b.enum) ? b.enum.filter((v) => !allowed.has(v)) : ["any value"];
    if (Array.isArray(a.enum) && lost.length > 0) {
      out.push(
        `${at} enum narrowed: ${lost.map((v) => JSON.stringify(v)).join(", ")} no longer allowed`,
      );
    }
  }
  out.push(...tightenedBounds(b, a, at));
  if (b.items !== undefined || a.items !== undefined) {
    out.push(...schemaBreaks(obj(b.items), obj(a.items), `${at}[]`));
  }
  const [bp, ap] = [obj(b.properties), obj(a.properties)];
  const required = new Set(Array.isArray(b.required) ? b.required : []);
  for (const name of Object.keys(bp)) {
    if (!(name in ap)) out.push(`${at}.${name} removed`);
    else out.push(...schemaBreaks(obj(bp[name]), obj(ap[name]), `${at}.${name}`));
  }
  for (const name of Array.isArray(a.required) ? a.required as string[] : []) {
    if (!required.has(name)) {
      out.push(`${at}.${name} is required now${name in bp ? " (was optional)" : " (new field)"}`);
    }
  }
  return out;
}

/** Every breaking change from `before` to `after` (two AsyncAPI documents); empty when none. */
export function breakingChanges(before: Json, after: Json): string[] {
  const [was, is] = [eventViewsOf(before), eventViewsOf(after)];
  const out: string[] = [];
  for (const [type, b] of Object.entries(was)) {
    const a = is[type];
    if (!a) {
      out.push(`${type} removed`);
      continue;
    }
    if (a.topic !== b.topic) out.push(`${type} moved from topic ${b.topic} to ${a.topic}`);
    if (a.key !== b.key) out.push(`${type} keyed by ${a.key}, was ${b.key}`);
    out.push(...schemaBreaks(b.payload, a.payload, `${type}.payload`));
  }
  return out;
}
