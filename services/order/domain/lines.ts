/**
 * An order's lines, one per product (issue 15, item 1): lines that name the
 * same product are merged into one, their quantities summed, in the order
 * each product first appears. So an order's stock requests are one per
 * product, never fifty of one product keyed to one partition, and a product
 * is not deducted by several steps of one saga.
 *
 * @module
 */
import type { OrderLine } from "../events.ts";

/** The lines with one line per product id, quantities summed, first-seen order kept. */
export function mergeLines(lines: readonly OrderLine[]): OrderLine[] {
  const byProduct = new Map<string, OrderLine>();
  for (const { productId, quantity } of lines) {
    const line = byProduct.get(productId);
    if (line) line.quantity += quantity;
    else byProduct.set(productId, { productId, quantity });
  }
  return [...byProduct.values()];
}

/**
 * Why the merged lines are refused, or undefined: a product's summed
 * quantity over `max` (the bound of a single line) is an error of the
 * request's `items`.
 */
export function mergedQuantityProblem(
  lines: readonly OrderLine[],
  max: number,
): string | undefined {
  const over = mergeLines(lines).find((l) => l.quantity > max);
  return over
    ? `product ${over.productId}: its lines add up to ${over.quantity}, at most ${max} per product`
    : undefined;
}
