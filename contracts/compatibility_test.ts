/**
 * The compatibility guard on the real document: a change to an event's
 * payload schema (made with zod, as events.ts would) is breaking or
 * additive as a schema registry would judge it.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { asyncApiDocument, payloadJsonSchema, payloadSchemaName } from "./asyncapi.ts";
import { breakingChanges } from "./compatibility.ts";

const id = z.string().min(1).max(200);
const reason = ["unknown_coupon", "not_owner", "already_used", "expired", "order_cancelled"];

/** The document with CouponUsageFailed's payload schema replaced by `schema`. */
function withCouponUsageFailed(schema: z.ZodType): Record<string, unknown> {
  const doc = structuredClone(asyncApiDocument());
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
  schemas[payloadSchemaName("CouponUsageFailed")] = payloadJsonSchema(schema);
  return doc;
}

Deno.test("the document compared with itself has no breaking change", () => {
  assert.deepEqual(breakingChanges(asyncApiDocument(), asyncApiDocument()), []);
});

Deno.test("an optional new field and a new enum value are additive changes", () => {
  const after = withCouponUsageFailed(z.object({
    orderId: id,
    reason: z.enum([...reason, "campaign_closed"]),
    detail: z.string().optional(),
    // A looser bound than the committed max(200).
    couponId: z.string().min(1).max(400),
  }));
  assert.deepEqual(breakingChanges(asyncApiDocument(), after), []);
});

Deno.test("a removed field, a retyped field, a new required field and a narrowed enum are breaking", () => {
  const after = withCouponUsageFailed(z.object({
    orderId: z.number(),
    reason: z.enum(reason.filter((r) => r !== "expired")),
    retryable: z.boolean(),
  }));
  assert.deepEqual(
    breakingChanges(asyncApiDocument(), after).sort(),
    [
      "CouponUsageFailed.payload.couponId removed",
      "CouponUsageFailed.payload.orderId retyped from string to number",
      'CouponUsageFailed.payload.reason enum narrowed: "expired" no longer allowed',
      "CouponUsageFailed.payload.retryable is required now (new field)",
    ].sort(),
  );
});

Deno.test("a tightened bound is breaking", () => {
  const after = withCouponUsageFailed(z.object({
    orderId: z.string().min(1).max(36),
    couponId: id,
    reason: z.enum(reason),
  }));
  assert.deepEqual(breakingChanges(asyncApiDocument(), after), [
    "CouponUsageFailed.payload.orderId maxLength lowered to 36",
  ]);
});

Deno.test("a nullable field made non-null, an optional field made required and a removed event type are breaking", () => {
  const before = asyncApiDocument();
  const after = structuredClone(before);
  const c = after.components as {
    messages: Record<string, unknown>;
    schemas: Record<string, unknown>;
  };
  delete c.messages.PointsRestored;
  c.schemas[payloadSchemaName("CouponIssued")] = payloadJsonSchema(z.object({
    couponId: id,
    campaignId: id,
    userId: id,
    discount: z.number().int().positive(),
    expiresAt: z.string(),
  }));
  const before2 = withCouponUsageFailed(
    z.object({ orderId: id, couponId: id, note: z.string().optional() }),
  );
  const after2 = withCouponUsageFailed(z.object({ orderId: id, couponId: id, note: z.string() }));
  assert.deepEqual(breakingChanges(before, after), [
    "CouponIssued.payload.expiresAt retyped from null|string to string",
    "PointsRestored removed",
  ]);
  assert.deepEqual(breakingChanges(before2, after2), [
    "CouponUsageFailed.payload.note is required now (was optional)",
  ]);
});
