/**
 * A guard against a known postgres.js bug (3.4.9; porsager/postgres #1066,
 * #1154, #1208): when Postgres closes a connection (a restart, a terminated
 * backend), a write already scheduled with setImmediate runs on the nulled
 * socket and throws `TypeError: Cannot read properties of null (reading
 * 'write')` from a timer — outside any await, so it would end the process.
 * By then the library has already rejected the connection's queries with
 * CONNECTION_CLOSED, so the throw carries no information: we log it and keep
 * running. Every other uncaught error still ends the process.
 *
 * @module
 */

let installed = false;

/** True for exactly the postgres.js null-socket write error. */
export function isPostgresNullSocketWrite(error: unknown): boolean {
  return error instanceof TypeError &&
    /reading 'write'/.test(error.message) &&
    /postgres[@/].*connection\.js/.test(error.stack ?? "") &&
    /nextWrite/.test(error.stack ?? "");
}

/** Installs the guard once per process (connect.ts does it on first use). */
export function installPostgresSocketGuard(): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event) => {
    if (isPostgresNullSocketWrite(event.error)) {
      event.preventDefault();
      console.error(JSON.stringify({
        time: new Date().toISOString(),
        level: "warn",
        message: "postgres.js wrote to a closed connection (known bug, ignored)",
      }));
    }
  });
}
