/**
 * Prints a demo bearer token, signed with JWT_SECRET, valid for 24 hours:
 *
 * ```sh
 * ./dev deno run -A kit/http/token.ts user-1          # a customer
 * ./dev deno run -A kit/http/token.ts ops-1 admin     # an administrator
 * curl -H "Authorization: Bearer $(./dev deno run -A kit/http/token.ts user-1)" …
 * ```
 *
 * Every argument after the user id is a role. `TOKEN_TTL_SECONDS` changes
 * the lifetime.
 *
 * @module
 */
import { envInt, jwtSecret } from "../env.ts";
import { issueToken } from "./auth.ts";

if (import.meta.main) {
  const [sub, ...roles] = Deno.args;
  if (!sub || sub.startsWith("-")) {
    console.error("usage: deno run -A kit/http/token.ts <userId> [role…]   (e.g. admin)");
    Deno.exit(2);
  }
  const ttl = envInt("TOKEN_TTL_SECONDS", 24 * 60 * 60, 1);
  console.log(await issueToken(jwtSecret(), { sub, roles }, ttl));
}
