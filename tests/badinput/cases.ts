/**
 * The bad requests, per service API: malformed JSON, wrong media types,
 * wrong types, missing and unknown fields, negative, fractional and huge
 * numbers, oversized bodies, unknown ids, SQL-injection strings, and
 * admin routes for a customer. Token cases are added for every route by the
 * test itself. Every body that could create something carries `mark` (in an
 * id, a name or a user id) so the test can count what was written for it.
 *
 * @module
 */
import { type BadRequest, oversized, SQL_INJECTIONS } from "./support.ts";

const V = 422;

/** `v` with `suffix` appended to every string. */
function withEveryString(v: unknown, suffix: string): unknown {
  if (typeof v === "string") return `${v}${suffix}`;
  if (Array.isArray(v)) return v.map((x) => withEveryString(x, suffix));
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withEveryString(x, suffix)]));
  }
  return v;
}

/**
 * A path (or query) with a percent-encoded NUL in it, and one with an
 * encoded lone surrogate (U+D800 as CESU-8 bytes, which are not UTF-8).
 */
function badUrls(method: string, path: string): BadRequest[] {
  return [
    { name: `NUL in ${path}`, method, path: `${path}%00x`, expect: [400] },
    { name: `encoded surrogate in ${path}`, method, path: `${path}%ED%A0%80`, expect: [400] },
  ];
}

/** Requests every JSON route must refuse the same way. */
function jsonBodyCases(method: string, path: string, valid: Record<string, unknown>): BadRequest[] {
  return [
    // Postgres cannot store either: NUL (text, jsonb), a lone UTF-16 surrogate
    // (jsonb refuses it, text turns it into U+FFFD); JSON.stringify spells it `\ud800`.
    { name: "NUL in strings", method, path, body: withEveryString(valid, "\u0000"), expect: [V] },
    {
      name: "lone surrogate in strings",
      method,
      path,
      body: withEveryString(valid, "\ud800"),
      expect: [V],
    },
    { name: "malformed JSON", method, path, raw: '{"a": [1, 2', expect: [400] },
    { name: "truncated JSON", method, path, raw: "{", expect: [400] },
    {
      name: "not JSON media type",
      method,
      path,
      raw: JSON.stringify(valid),
      contentType: "text/plain",
      expect: [415],
    },
    {
      name: "form body",
      method,
      path,
      raw: "a=1&b=2",
      contentType: "application/x-www-form-urlencoded",
      expect: [415],
    },
    { name: "empty object", method, path, body: {}, expect: [V] },
    { name: "JSON null", method, path, raw: "null", expect: [V, 400] },
    { name: "JSON array", method, path, body: [valid], expect: [V] },
    { name: "JSON string", method, path, body: "hello", expect: [V] },
    { name: "unknown field", method, path, body: { ...valid, isAdmin: true }, expect: [V] },
    { name: "oversized body", method, path, raw: oversized(), expect: [413] },
    {
      name: "prototype pollution",
      method,
      path,
      raw: `{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}`,
      expect: [V],
    },
  ];
}

/** Every number a counted field must refuse. */
function numberCases(
  method: string,
  path: string,
  valid: Record<string, unknown>,
  field: string,
  bad: unknown[] = [-1, 0.5, 1e308, 2 ** 53 + 2, "5", null, true, [1], { n: 1 }],
): BadRequest[] {
  const cases: BadRequest[] = bad.map((v) => ({
    name: `${field}=${JSON.stringify(v)}`,
    method,
    path,
    body: { ...valid, [field]: v },
    expect: [V],
  }));
  // JSON numbers JavaScript cannot hold: 1e999 parses to Infinity.
  cases.push({
    name: `${field}=1e999`,
    method,
    path,
    raw: JSON.stringify({ ...valid, [field]: 0 }).replace(`"${field}":0`, `"${field}":1e999`),
    expect: [V],
  });
  const { [field]: _, ...missing } = valid;
  cases.push({ name: `${field} missing`, method, path, body: missing, expect: [V] });
  return cases;
}

export function inventoryCases(mark: string): { admin: BadRequest[]; customer: BadRequest[] } {
  const valid = { id: `${mark}-p`, name: mark, price: 100, stock: 5 };
  const admin: BadRequest[] = [
    ...jsonBodyCases("POST", "/products", valid),
    ...numberCases("POST", "/products", valid, "price"),
    ...numberCases("POST", "/products", valid, "stock", [-5, 1.5, 1e10, "7", null]),
    {
      name: "name empty",
      method: "POST",
      path: "/products",
      body: { ...valid, name: "   " },
      expect: [V],
    },
    {
      name: "name a number",
      method: "POST",
      path: "/products",
      body: { ...valid, name: 5 },
      expect: [V],
    },
    {
      name: "name too long",
      method: "POST",
      path: "/products",
      body: { ...valid, name: mark + "x".repeat(300) },
      expect: [V],
    },
    ...SQL_INJECTIONS.map((s) => ({
      name: `id ${s}`,
      method: "POST",
      path: "/products",
      body: { ...valid, id: `${mark}${s}` },
      expect: [V],
    })),
    {
      name: "stock of unknown product",
      method: "PUT",
      path: `/products/${mark}-nope/stock`,
      body: { stock: 1 },
      expect: [404],
    },
    {
      name: "negative stock",
      method: "PUT",
      path: `/products/${mark}-nope/stock`,
      body: { stock: -1 },
      expect: [V],
    },
    {
      name: "stock as text",
      method: "PUT",
      path: `/products/${mark}-nope/stock`,
      body: { stock: "1" },
      expect: [V],
    },
    { name: "unknown product", method: "GET", path: `/products/${mark}-nope`, expect: [404] },
    ...SQL_INJECTIONS.map((s) => ({
      name: `product id ${s}`,
      method: "GET",
      path: `/products/${encodeURIComponent(s)}`,
      expect: [404, V],
    })),
    { name: "limit 0", method: "GET", path: "/products?limit=0", expect: [V] },
    { name: "limit text", method: "GET", path: "/products?limit=ten", expect: [V] },
    { name: "limit huge", method: "GET", path: "/products?limit=1e12", expect: [V] },
    {
      name: "after injection",
      method: "GET",
      path: `/products?after=${encodeURIComponent(SQL_INJECTIONS[0])}`,
      expect: [V],
    },
    { name: "unknown query", method: "GET", path: "/products?sort=price;drop", expect: [V] },
    ...badUrls("GET", `/products/${mark}`),
    ...badUrls("GET", "/products?after=a"),
    ...badUrls("PUT", `/products/${mark}/stock`),
  ];
  const customer: BadRequest[] = [
    {
      name: "customer creates a product",
      method: "POST",
      path: "/products",
      body: valid,
      expect: [403],
    },
    {
      name: "customer sets stock",
      method: "PUT",
      path: `/products/${mark}-p/stock`,
      body: { stock: 0 },
      expect: [403],
    },
  ];
  return { admin, customer };
}

export function orderCases(
  mark: string,
  productId: string,
): { user: BadRequest[]; customerAdmin: BadRequest[]; admin: BadRequest[] } {
  const valid = { items: [{ productId, quantity: 1 }] };
  const item = (o: Record<string, unknown>) => ({ items: [{ productId, quantity: 1, ...o }] });
  const user: BadRequest[] = [
    ...jsonBodyCases("POST", "/orders", valid),
    { name: "no items", method: "POST", path: "/orders", body: { items: [] }, expect: [V] },
    {
      name: "items not a list",
      method: "POST",
      path: "/orders",
      body: { items: { productId } },
      expect: [V],
    },
    {
      name: "51 items",
      method: "POST",
      path: "/orders",
      body: { items: Array.from({ length: 51 }, () => valid.items[0]) },
      expect: [V],
    },
    ...[0, -1, 1_001, 1.5, 1e308, "1", null].map((q) => ({
      name: `quantity ${JSON.stringify(q)}`,
      method: "POST",
      path: "/orders",
      body: item({ quantity: q }),
      expect: [V],
    })),
    {
      name: "productId missing",
      method: "POST",
      path: "/orders",
      body: { items: [{ quantity: 1 }] },
      expect: [V],
    },
    {
      name: "productId empty",
      method: "POST",
      path: "/orders",
      body: item({ productId: "" }),
      expect: [V],
    },
    {
      name: "productId a number",
      method: "POST",
      path: "/orders",
      body: item({ productId: 7 }),
      expect: [V],
    },
    {
      name: "productId too long",
      method: "POST",
      path: "/orders",
      body: item({ productId: "p".repeat(65) }),
      expect: [V],
    },
    {
      name: "item unknown field",
      method: "POST",
      path: "/orders",
      body: item({ price: 0 }),
      expect: [V],
    },
    {
      name: "points negative",
      method: "POST",
      path: "/orders",
      body: { ...valid, points: -100 },
      expect: [V],
    },
    {
      name: "points huge",
      method: "POST",
      path: "/orders",
      body: { ...valid, points: 1e15 },
      expect: [V],
    },
    {
      name: "points text",
      method: "POST",
      path: "/orders",
      body: { ...valid, points: "10" },
      expect: [V],
    },
    {
      name: "couponId a number",
      method: "POST",
      path: "/orders",
      body: { ...valid, couponId: 5 },
      expect: [V],
    },
    {
      name: "couponId empty",
      method: "POST",
      path: "/orders",
      body: { ...valid, couponId: "" },
      expect: [V],
    },
    {
      name: "userId smuggled",
      method: "POST",
      path: "/orders",
      body: { ...valid, userId: "victim" },
      expect: [V],
    },
    {
      name: "status smuggled",
      method: "POST",
      path: "/orders",
      body: { ...valid, status: "COMPLETED" },
      expect: [V],
    },
    { name: "unknown order", method: "GET", path: `/orders/${crypto.randomUUID()}`, expect: [404] },
    { name: "order id not a uuid", method: "GET", path: "/orders/12345", expect: [404] },
    ...SQL_INJECTIONS.map((s) => ({
      name: `order id ${s}`,
      method: "GET",
      path: `/orders/${encodeURIComponent(s)}`,
      expect: [404],
    })),
    {
      name: "events of unknown order",
      method: "GET",
      path: `/orders/${crypto.randomUUID()}/events`,
      expect: [404],
    },
    { name: "list limit 0", method: "GET", path: "/orders?limit=0", expect: [V] },
    { name: "list limit 201", method: "GET", path: "/orders?limit=201", expect: [V] },
    { name: "list status bogus", method: "GET", path: "/orders?status=SHIPPED", expect: [V] },
    {
      name: "list from not a date",
      method: "GET",
      path: `/orders?from=${encodeURIComponent(SQL_INJECTIONS[1])}`,
      expect: [V],
    },
    { name: "list to not a date", method: "GET", path: "/orders?to=yesterday", expect: [V] },
    { name: "unknown route", method: "GET", path: "/orderz", expect: [404] },
    ...badUrls("GET", `/orders/${crypto.randomUUID()}`),
    ...badUrls("GET", "/orders?status=PENDING"),
    { name: "unsupported method", method: "DELETE", path: "/orders", expect: [404, 405] },
  ];
  const customerAdmin: BadRequest[] = [
    { name: "customer lists all orders", method: "GET", path: "/admin/orders", expect: [403] },
    { name: "customer reads the mode", method: "GET", path: "/admin/settings/mode", expect: [403] },
    {
      name: "customer sets the mode",
      method: "PUT",
      path: "/admin/settings/mode",
      body: { strategy: "sequential", parallelEnabled: false, parallelPercentage: 0 },
      expect: [403],
    },
  ];
  const mode = { strategy: "parallel", parallelEnabled: true, parallelPercentage: 100 };
  const admin: BadRequest[] = [
    ...jsonBodyCases("PUT", "/admin/settings/mode", mode),
    {
      name: "strategy bogus",
      method: "PUT",
      path: "/admin/settings/mode",
      body: { ...mode, strategy: "random" },
      expect: [V],
    },
    ...numberCases("PUT", "/admin/settings/mode", mode, "parallelPercentage", [
      -1,
      101,
      50.5,
      "50",
      null,
    ]),
    {
      name: "parallelEnabled text",
      method: "PUT",
      path: "/admin/settings/mode",
      body: { ...mode, parallelEnabled: "yes" },
      expect: [V],
    },
    {
      name: "admin list, user too long",
      method: "GET",
      path: `/admin/orders?user=${"u".repeat(200)}`,
      expect: [V],
    },
    {
      name: "admin list, limit negative",
      method: "GET",
      path: "/admin/orders?limit=-5",
      expect: [V],
    },
    ...badUrls("GET", "/admin/orders?user=a"),
  ];
  void mark;
  return { user, customerAdmin, admin };
}

export function couponCases(
  mark: string,
  victim: string,
  campaigns: boolean,
): { admin: BadRequest[]; customer: BadRequest[] } {
  const valid = { id: `${mark}-c`, userId: victim, discount: 500 };
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const past = new Date(Date.now() - 3_600_000).toISOString();
  const admin: BadRequest[] = [
    ...jsonBodyCases("POST", "/admin/coupons", valid),
    ...numberCases("POST", "/admin/coupons", valid, "discount", [0, -500, 1.5, 1e12, "500", null]),
    {
      name: "userId empty",
      method: "POST",
      path: "/admin/coupons",
      body: { ...valid, userId: "" },
      expect: [V],
    },
    {
      name: "userId a list",
      method: "POST",
      path: "/admin/coupons",
      body: { ...valid, userId: [victim] },
      expect: [V],
    },
    {
      name: "expiresAt in the past",
      method: "POST",
      path: "/admin/coupons",
      body: { ...valid, expiresAt: past },
      expect: [V],
    },
    {
      name: "expiresAt not a time",
      method: "POST",
      path: "/admin/coupons",
      body: { ...valid, expiresAt: "tomorrow" },
      expect: [V],
    },
    ...SQL_INJECTIONS.map((s) => ({
      name: `coupon id ${s}`,
      method: "POST",
      path: "/admin/coupons",
      body: { ...valid, id: `${mark}${s}` },
      expect: [V],
    })),
  ];
  const customer: BadRequest[] = [
    {
      name: "customer grants a coupon",
      method: "POST",
      path: "/admin/coupons",
      body: valid,
      expect: [403],
    },
  ];
  if (campaigns) {
    const campaign = { id: `${mark}-k`, name: mark, total: 10, discount: 100, endsAt: future };
    admin.push(
      ...jsonBodyCases("POST", "/admin/campaigns", campaign),
      ...numberCases("POST", "/admin/campaigns", campaign, "total", [
        0,
        -10,
        1e12,
        2.5,
        "10",
        null,
      ]),
      {
        name: "campaign ends in the past",
        method: "POST",
        path: "/admin/campaigns",
        body: { ...campaign, endsAt: past },
        expect: [V],
      },
      {
        name: "campaign ends before it starts",
        method: "POST",
        path: "/admin/campaigns",
        body: { ...campaign, startsAt: future, endsAt: future },
        expect: [V],
      },
      {
        name: "campaign endsAt missing",
        method: "POST",
        path: "/admin/campaigns",
        body: { ...campaign, endsAt: undefined },
        expect: [V],
      },
      {
        name: "campaign id injection",
        method: "POST",
        path: "/admin/campaigns",
        body: { ...campaign, id: `${mark}${SQL_INJECTIONS[0]}` },
        expect: [V],
      },
      {
        name: "unknown campaign",
        method: "GET",
        path: `/admin/campaigns/${mark}-nope`,
        expect: [404],
      },
      ...badUrls("GET", `/admin/campaigns/${mark}`),
      ...SQL_INJECTIONS.map((s) => ({
        name: `campaign id ${s}`,
        method: "GET",
        path: `/admin/campaigns/${encodeURIComponent(s)}`,
        expect: [404],
      })),
    );
    customer.push(
      {
        name: "customer creates a campaign",
        method: "POST",
        path: "/admin/campaigns",
        body: campaign,
        expect: [403],
      },
      ...jsonBodyCases("POST", "/coupons/issue", { campaignId: `${mark}-nope` }),
      {
        name: "issue: unknown campaign",
        method: "POST",
        path: "/coupons/issue",
        body: { campaignId: `${mark}-nope` },
        expect: [404],
      },
      {
        name: "issue: campaignId a number",
        method: "POST",
        path: "/coupons/issue",
        body: { campaignId: 5 },
        expect: [V],
      },
      {
        name: "issue: campaignId injection",
        method: "POST",
        path: "/coupons/issue",
        body: { campaignId: SQL_INJECTIONS[1] },
        expect: [V],
      },
    );
  }
  return { admin, customer };
}

export function pointCases(victim: string): { admin: BadRequest[]; customer: BadRequest[] } {
  const valid = { userId: victim, amount: 100 };
  const admin: BadRequest[] = [
    ...jsonBodyCases("POST", "/admin/points/grant", valid),
    ...numberCases("POST", "/admin/points/grant", valid, "amount", [
      0,
      -100,
      1.5,
      1e10,
      1e308,
      "100",
      null,
    ]),
    {
      name: "userId empty",
      method: "POST",
      path: "/admin/points/grant",
      body: { ...valid, userId: "" },
      expect: [V],
    },
    {
      name: "userId too long",
      method: "POST",
      path: "/admin/points/grant",
      body: { ...valid, userId: "u".repeat(65) },
      expect: [V],
    },
    {
      name: "userId an object",
      method: "POST",
      path: "/admin/points/grant",
      body: { ...valid, userId: { $ne: null } },
      expect: [V],
    },
  ];
  const customer: BadRequest[] = [
    {
      name: "customer grants points",
      method: "POST",
      path: "/admin/points/grant",
      body: valid,
      expect: [403],
    },
    { name: "unknown route", method: "GET", path: "/points/everyone", expect: [404] },
  ];
  return { admin, customer };
}

export function deadLetterCases(): { admin: BadRequest[]; customer: BadRequest[] } {
  const admin: BadRequest[] = [
    ...["status=LOST", "limit=0", "limit=201", "limit=abc", "before=-1", "before=1e5", "colour=red"]
      .map((q) => ({
        name: `list ${q}`,
        method: "GET",
        path: `/admin/dead-letters?${q}`,
        expect: [V],
      })),
    {
      name: "list topic too long",
      method: "GET",
      path: `/admin/dead-letters?topic=${"t".repeat(300)}`,
      expect: [V],
    },
    {
      name: "unknown dead letter",
      method: "GET",
      path: "/admin/dead-letters/999999999999",
      expect: [404],
    },
    ...badUrls("GET", "/admin/dead-letters?topic=stock-events"),
    ...badUrls("GET", "/admin/dead-letters/1"),
    {
      name: "resolve, NUL in note",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      body: { note: "a\u0000b" },
      expect: [V],
    },
    {
      name: "resolve, lone surrogate in note",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      body: { note: "a\udfffb" },
      expect: [V],
    },
    ...SQL_INJECTIONS.map((s) => ({
      name: `dead letter id ${s}`,
      method: "GET",
      path: `/admin/dead-letters/${encodeURIComponent(s)}`,
      expect: [404],
    })),
    {
      name: "replay unknown",
      method: "POST",
      path: "/admin/dead-letters/999999999999/replay",
      expect: [404],
    },
    {
      name: "resolve unknown",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      expect: [404],
    },
    {
      name: "resolve, note a number",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      body: { note: 5 },
      expect: [V],
    },
    {
      name: "resolve, note too long",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      body: { note: "n".repeat(1_001) },
      expect: [V],
    },
    {
      name: "resolve, malformed",
      method: "POST",
      path: "/admin/dead-letters/999999999999/resolve",
      raw: "{",
      expect: [400],
    },
    // Only refused replays: a valid one would re-send every pending dead letter.
    {
      name: "replay all, limit negative",
      method: "POST",
      path: "/admin/dead-letters/replay",
      body: { limit: -1 },
      expect: [V],
    },
    {
      name: "replay all, topic a number",
      method: "POST",
      path: "/admin/dead-letters/replay",
      body: { topic: 5 },
      expect: [V],
    },
    {
      name: "replay all, unknown field",
      method: "POST",
      path: "/admin/dead-letters/replay",
      body: { all: true },
      expect: [V],
    },
    {
      name: "replay all, malformed",
      method: "POST",
      path: "/admin/dead-letters/replay",
      raw: "{]",
      expect: [400],
    },
    {
      name: "replay all, oversized",
      method: "POST",
      path: "/admin/dead-letters/replay",
      raw: oversized(),
      expect: [413],
    },
    {
      name: "replay all, text",
      method: "POST",
      path: "/admin/dead-letters/replay",
      raw: "all",
      contentType: "text/plain",
      expect: [415],
    },
  ];
  const customer: BadRequest[] = [
    {
      name: "customer lists dead letters",
      method: "GET",
      path: "/admin/dead-letters",
      expect: [403],
    },
    {
      name: "customer replays all",
      method: "POST",
      path: "/admin/dead-letters/replay",
      expect: [403],
    },
    {
      name: "customer resolves",
      method: "POST",
      path: "/admin/dead-letters/1/resolve",
      expect: [403],
    },
  ];
  return { admin, customer };
}
