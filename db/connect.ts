/**
 * Connections to the suite's Postgres. A service connects as its own role
 * ({@link connectService}), whose `search_path` is its schema, so its SQL
 * names tables without a schema. Only migrations, retention and tests connect
 * as the superuser ({@link connectAdmin}).
 *
 * @module
 */
import postgres from "postgres";
import { infraConfig, pgAddress } from "../kit/env.ts";
import { type DbRole, rolePassword } from "./roles.ts";
import { installPostgresSocketGuard } from "./socket_guard.ts";

/** A postgres.js connection pool. */
export type Sql = postgres.Sql;

/** Pool settings; the defaults suit a service process. */
export interface ConnectOptions {
  /** Most connections the pool opens (default 10). */
  max?: number;
  /** Seconds before an idle connection is closed (default 30). */
  idleTimeout?: number;
  /** Seconds to wait for a connection to open (default 10). */
  connectTimeout?: number;
  /** Another database than PG_DATABASE (tests use throw-away databases). */
  database?: string;
  /** Shown in pg_stat_activity; defaults to the role's name. */
  applicationName?: string;
  /**
   * For a LISTENing connection (db/listener.ts): called with each
   * notification and when a connection closes. The connection is then kept
   * open for good (no idle timeout, no maximum lifetime).
   */
  notifications?: {
    onNotify(channel: string, payload: string): void;
    onClose(): void;
  };
}

function open(
  user: string,
  password: string,
  address: { host: string; port: number; database: string },
  opts: ConnectOptions,
): Sql {
  installPostgresSocketGuard();
  return postgres({
    host: address.host,
    port: address.port,
    database: opts.database ?? address.database,
    username: user,
    password,
    max: opts.max ?? 10,
    idle_timeout: opts.idleTimeout ?? 30,
    connect_timeout: opts.connectTimeout ?? 10,
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? user },
    ...(opts.notifications
      ? {
        idle_timeout: 0,
        max_lifetime: null,
        onnotify: opts.notifications.onNotify,
        onclose: opts.notifications.onClose,
      }
      : {}),
  });
}

/**
 * The superuser (PG_SUPERUSER / PG_SUPERUSER_PASSWORD): for migrations,
 * retention and tests, never for a service's own work.
 */
export function connectAdmin(opts: ConnectOptions = {}): Sql {
  const { pg } = infraConfig();
  return open(pg.superuser, pg.superuserPassword, pg, opts);
}

/**
 * A pool logged in as one of the suite's roles, with that role's password
 * from the environment (db/roles.ts names the variables).
 *
 * @example
 * ```ts ignore
 * const sql = connectService("order_service", { max: 5 });
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders_table …`; // unqualified: search_path is `orders`
 * });
 * await sql.end();
 * ```
 */
export function connectService(role: DbRole, opts: ConnectOptions = {}): Sql {
  return open(role, rolePassword(role), pgAddress(), opts);
}
