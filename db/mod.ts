/**
 * The database kit every service and the relay share: connections, the
 * migration runner, publishing through the outbox, deduplicating through the
 * inbox, and retention. Import from here.
 *
 * @module
 */
export { connectAdmin, type ConnectOptions, connectService, type Sql } from "./connect.ts";
export { migrate, type MigrateOptions, type Migration, MigrationError } from "./migrate.ts";
export {
  appendOutbox,
  InvalidEventError,
  type OutboxEvent,
  type StoredEvent,
  validateEvent,
} from "./outbox.ts";
export { claimInbox, claimInboxBatch } from "./inbox.ts";
export {
  cleanupInbox,
  cleanupOutbox,
  type DeletedCounts,
  type InboxRetentionOptions,
  type OutboxRetentionOptions,
  type RetentionOptions,
} from "./retention.ts";
export { DB_ROLES, type DbRole, rolePassword, SERVICE_SCHEMAS, type ServiceRole } from "./roles.ts";
export type { Tx } from "./transaction.ts";
