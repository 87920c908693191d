/**
 * `deno task contracts`: writes docs/asyncapi.json and docs/events.md from
 * the code, unless the events changed in a way that breaks a consumer
 * (contracts/compatibility.ts) — then it lists the breaking changes and
 * writes nothing. A break is accepted only as a new major version: bump
 * CONTRACT_VERSION in contracts/asyncapi.ts (a deliberate, visible act).
 *
 * `deno task contracts --check` (CI, `./dev test`): fails on a breaking
 * change without a major version bump against the committed
 * docs/asyncapi.json (or CONTRACTS_BASELINE_REF's: contracts/config.ts),
 * and when the committed documents are not what the code makes (run
 * `deno task contracts`).
 *
 * @module
 */
import { asyncApiDocument } from "./asyncapi.ts";
import { breakingChanges } from "./compatibility.ts";
import { loadContractsConfig } from "./config.ts";
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

/** The baseline's docs/asyncapi.json at git revision `ref`, or "" where it has none. */
async function asyncApiAt(ref: string): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["show", `${ref}:docs/asyncapi.json`],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : "";
}

const major = (doc: string): number =>
  Number(String(JSON.parse(doc).info?.version ?? "0").split(".")[0]);

/**
 * What is wrong with the committed documents: the breaking changes against
 * `baseline` (its asyncapi.json; none when the major version went up), and
 * which committed files differ from the code's.
 */
export function problemsWith(
  committed: { asyncapi: string; events: string },
  now: { asyncapi: string; events: string },
  baseline = committed.asyncapi,
): { breaking: string[]; stale: string[] } {
  const breaking = baseline === "" || major(now.asyncapi) > major(baseline)
    ? []
    : breakingChanges(JSON.parse(baseline), JSON.parse(now.asyncapi));
  const stale = [
    ...(committed.asyncapi !== now.asyncapi ? ["docs/asyncapi.json"] : []),
    ...(committed.events !== now.events ? ["docs/events.md"] : []),
  ];
  return { breaking, stale };
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const { baselineRef } = loadContractsConfig();
  const now = generatedDocuments();
  const committed = { asyncapi: await readOrEmpty(ASYNCAPI), events: await readOrEmpty(EVENTS_MD) };
  const baseline = baselineRef === "" ? committed.asyncapi : await asyncApiAt(baselineRef);
  const { breaking, stale } = problemsWith(committed, now, baseline);
  if (breaking.length > 0) {
    console.error(
      `breaking changes to the events (against ${baselineRef || "the working tree"}'s ` +
        "docs/asyncapi.json):",
    );
    for (const b of breaking) console.error(`  - ${b}`);
    console.error(
      "A consumer deployed later would fail on them. Add a field as optional, or add a new " +
        "event type instead of changing one; a deliberate break is a new major " +
        "CONTRACT_VERSION (contracts/asyncapi.ts).",
    );
    Deno.exit(1);
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
