/**
 * The database roles of the suite and the schema each one works in. One login
 * role per service, each confined to its own schema (SPEC design card: every
 * service owns its state and its outbox), and the relay's role, which reads
 * the outboxes and owns the `relay` schema. Passwords come from the
 * environment (`./dev` makes them per machine, infra/lib.sh).
 *
 * @module
 */
import { envString } from "../kit/env.ts";

/** A service's login role. */
export type ServiceRole =
  | "order_service"
  | "inventory_service"
  | "coupon_service"
  | "point_service";

/** Every login role a process of the suite connects as. */
export type DbRole = ServiceRole | "outbox_relay" | "deadletter_service";

/** What a role is: its schema and the variable that holds its password. */
export interface RoleSpec {
  schema: string;
  passwordEnv: string;
}

/** The roles, exactly as db/migrations creates them. */
export const DB_ROLES: Readonly<Record<DbRole, RoleSpec>> = {
  order_service: { schema: "orders", passwordEnv: "ORDER_DB_PASSWORD" },
  inventory_service: { schema: "inventory", passwordEnv: "INVENTORY_DB_PASSWORD" },
  coupon_service: { schema: "coupons", passwordEnv: "COUPON_DB_PASSWORD" },
  point_service: { schema: "points", passwordEnv: "POINT_DB_PASSWORD" },
  outbox_relay: { schema: "relay", passwordEnv: "RELAY_DB_PASSWORD" },
  // The dead-letter service (services/deadletter/, SPEC §9.2): no outbox, no inbox.
  deadletter_service: { schema: "deadletters", passwordEnv: "DEADLETTER_DB_PASSWORD" },
};

/** The four service schemas; each has an `outbox` and an `inbox` table. */
export const SERVICE_SCHEMAS: readonly string[] = ["orders", "inventory", "coupons", "points"];

/** A role's password, from its environment variable; throws ConfigError when unset. */
export function rolePassword(role: DbRole): string {
  return envString(DB_ROLES[role].passwordEnv);
}
