import assert from "node:assert/strict";
import { mergedQuantityProblem, mergeLines } from "./lines.ts";

Deno.test("mergeLines() sums the lines of one product and keeps the order products first appear in", () => {
  const lines = [
    { productId: "b", quantity: 1 },
    { productId: "a", quantity: 2 },
    { productId: "b", quantity: 3 },
  ];
  assert.deepEqual(mergeLines(lines), [{ productId: "b", quantity: 4 }, {
    productId: "a",
    quantity: 2,
  }]);
  assert.deepEqual(lines[0], { productId: "b", quantity: 1 }, "the input is left as it was");
});

Deno.test("mergedQuantityProblem() names the product whose lines add up to more than the bound", () => {
  const ok = [{ productId: "a", quantity: 500 }, { productId: "a", quantity: 500 }];
  assert.equal(mergedQuantityProblem(ok, 1_000), undefined);
  assert.equal(
    mergedQuantityProblem([...ok, { productId: "a", quantity: 1 }], 1_000),
    "product a: its lines add up to 1001, at most 1000 per product",
  );
});
