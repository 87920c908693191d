import assert from "node:assert/strict";
import { formatLsn, parseLsn } from "./lsn.ts";

Deno.test("parseLsn() orders WAL positions and formatLsn() round-trips them", () => {
  assert.ok(parseLsn("0/FFFFFFFF") < parseLsn("1/0"));
  assert.ok(parseLsn("16/B374D848") > parseLsn("16/B374D847"));
  for (const lsn of ["0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"]) {
    assert.equal(formatLsn(parseLsn(lsn)), lsn);
  }
  assert.throws(() => parseLsn("16-B3"), /not an LSN/);
});
