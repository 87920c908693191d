/**
 * Issue 15 item 0: the README's commands work wherever the clone sits. As
 * root, Postgres runs as the `postgres` user, which cannot enter a 0700
 * folder (root's home, `mktemp -d`); infra/postgres.sh must still make,
 * start, stop and find its cluster. This clones the repository into such a
 * folder and drives the clone's own infra/postgres.sh on a free port — a
 * second, private cluster beside the suite's.
 */
import assert from "node:assert/strict";
import postgres from "postgres";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Runs a command; returns its exit status and output together. */
async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    // Only what a newcomer's shell has: ./dev's ROOT, DATA_DIR, PG_* must not
    // leak in and point the clone's scripts back at this tree.
    clearEnv: opts.env !== undefined,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Connects to the clone's cluster as its superuser (password from the clone's secrets.env). */
async function connectClone(clone: string, port: number): Promise<postgres.Sql> {
  const text = await Deno.readTextFile(`${clone}/.data/secrets.env`);
  const line = text.split("\n").find((l) => l.startsWith("PG_SUPERUSER_PASSWORD="));
  assert.ok(line, "secrets.env has PG_SUPERUSER_PASSWORD");
  return postgres({
    host: "127.0.0.1",
    port,
    database: "shop",
    username: "postgres",
    password: line.slice("PG_SUPERUSER_PASSWORD=".length),
    max: 1,
    onnotice: () => {},
  });
}

Deno.test("a clone in a 0700 folder starts its own Postgres, and down/up find the same cluster again", async () => {
  const home = await Deno.makeTempDir({ prefix: "private-clone-" });
  await Deno.chmod(home, 0o700);
  const clone = `${home}/shop`;
  const port = freePort();
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    NO_COLOR: "1",
    PG_PORT: String(port),
  };
  const pgsh = (cmd: string) => run("bash", ["infra/postgres.sh", cmd], { cwd: clone, env });
  try {
    const cloned = await run("git", ["clone", "--quiet", ROOT, clone]);
    assert.ok(cloned.ok, cloned.out);
    // The scripts under test are this tree's, committed or not.
    for (const f of ["lib.sh", "postgres.sh"]) {
      await Deno.copyFile(`${ROOT}infra/${f}`, `${clone}/infra/${f}`);
    }

    // What a failed first `./dev up` of an earlier version left behind.
    await Deno.mkdir(`${clone}/.data/pg`, { recursive: true });

    const up = await pgsh("up");
    assert.ok(up.ok, `infra/postgres.sh up failed in a 0700 folder:\n${up.out}`);

    const sql = await connectClone(clone, port);
    try {
      const [{ answer }] = await sql`select 6 * 7 as answer`;
      assert.equal(answer, 42);
      await sql`create table kept (note text)`;
      await sql`insert into kept values ('made before the restart')`;
    } finally {
      await sql.end();
    }

    assert.match((await pgsh("status")).out, new RegExp(`postgres up +127\\.0\\.0\\.1:${port}`));
    assert.ok((await pgsh("down")).ok);
    assert.match((await pgsh("status")).out, /postgres DOWN/);

    // Up again: the same cluster, not a new one.
    const again = await pgsh("up");
    assert.ok(again.ok, again.out);
    assert.doesNotMatch(again.out, /initdb/);
    const sql2 = await connectClone(clone, port);
    try {
      const [{ note }] = await sql2`select note from kept`;
      assert.equal(note, "made before the restart");
    } finally {
      await sql2.end();
    }
  } finally {
    await pgsh("down").catch(() => {});
    // A cluster kept outside the clone (for the postgres user's sake) goes too.
    const cluster = await Deno.realPath(`${clone}/.data/pg`).catch(() => null);
    if (cluster !== null && !cluster.startsWith(home)) {
      const base = cluster.replace(/\/pg$/, "");
      await Deno.remove(base, { recursive: true });
    }
    await Deno.remove(home, { recursive: true });
  }
});
