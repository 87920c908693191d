/**
 * `deno task contracts`: writes docs/asyncapi.json and docs/events.md from
 * the code, unless the events changed in a way that breaks a consumer
 * (contracts/compatibility.ts) — then it lists the breaking changes and
 * writes nothing, unless `--allow-breaking` (a deliberate new version:
 * bump CONTRACT_VERSION in contracts/asyncapi.ts).
 *
 * `deno task contracts --check` (CI, `./dev test`): fails on a breaking
 * change against the committed docs/asyncapi.json, and when the committed
 * documents are not what the code makes (run `deno task contracts`).
 *
 * @module
 */
import { asyncApiDocument } from "./asyncapi.ts";
import { breakingChanges } from "./compatibility.ts";
import { eventsMarkdown } from "./events_markdown.ts";

const DOCS = new URL("../docs/", import.meta.url);
const ASYNCAPI = new URL("asyncapi.json", DOCS);
const EVENTS_MD = new URL("events.md", DOCS);

/** The documents as the code makes them, by file. */
export function generatedDocuments(): { asyncapi: string; events: string } {
  const doc = asyncApiDocument();
  return { asyncapi: `${JSON.stringify(doc, null, 2)}\n`, events: eventsMarkdown(doc) };
}

async function readOrEmpty(url: URL): Promise<string> {
  try {
    return await Deno.readTextFile(url);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "";
    throw err;
  }
}

/** What is wrong with the committed documents, as sentences; empty when nothing. */
export function problemsWith(
  committed: { asyncapi: string; events: string },
  now: { asyncapi: string; events: string },
): { breaking: string[]; stale: string[] } {
  const breaking = committed.asyncapi === ""
    ? []
    : breakingChanges(JSON.parse(committed.asyncapi), JSON.parse(now.asyncapi));
  const stale = [
    ...(committed.asyncapi !== now.asyncapi ? ["docs/asyncapi.json"] : []),
    ...(committed.events !== now.events ? ["docs/events.md"] : []),
  ];
  return { breaking, stale };
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const allowBreaking = Deno.args.includes("--allow-breaking");
  const now = generatedDocuments();
  const committed = { asyncapi: await readOrEmpty(ASYNCAPI), events: await readOrEmpty(EVENTS_MD) };
  const { breaking, stale } = problemsWith(committed, now);
  if (breaking.length > 0) {
    console.error(`breaking changes to the events (against docs/asyncapi.json):`);
    for (const b of breaking) console.error(`  - ${b}`);
    if (check || !allowBreaking) {
      console.error(
        "A consumer deployed later would fail on them. Add a field as optional, add a new " +
          "event type instead of changing one, or — deliberately — run " +
          "`deno task contracts --allow-breaking` and bump CONTRACT_VERSION.",
      );
      Deno.exit(1);
    }
  }
  if (check) {
    if (stale.length > 0) {
      console.error(`not up to date with the code: ${stale.join(", ")}; run deno task contracts`);
      Deno.exit(1);
    }
    console.log("event contracts: compatible, docs/asyncapi.json and docs/events.md up to date");
  } else {
    await Deno.mkdir(DOCS, { recursive: true });
    await Deno.writeTextFile(ASYNCAPI, now.asyncapi);
    await Deno.writeTextFile(EVENTS_MD, now.events);
    console.log(stale.length > 0 ? `wrote ${stale.join(", ")}` : "already up to date");
  }
}
