/** redactUrl(): credentials out of the URLs that spans record (issue 15 item 9). */
import assert from "node:assert/strict";
import { redactUrl } from "./url_secrets.ts";

const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";

Deno.test("redactUrl() replaces credential parameters and JWTs, and keeps the rest as sent", () => {
  const cases: [string, string][] = [
    [`http://h/orders/ws?access_token=${jwt}`, "http://h/orders/ws?access_token=REDACTED"],
    [
      "http://h/x?a=1&Token=abc&b=%20&api_key=k",
      "http://h/x?a=1&Token=REDACTED&b=%20&api_key=REDACTED",
    ],
    [`http://h/x?q=${jwt}#frag`, "http://h/x?q=REDACTED"],
    [`http://h/t/${jwt}/x`, "http://h/t/REDACTED/x"],
    ["http://h/orders?status=PENDING&limit=5", "http://h/orders?status=PENDING&limit=5"],
    ["http://h/orders", "http://h/orders"],
  ];
  for (const [url, want] of cases) assert.equal(redactUrl(url), want, url);
});
