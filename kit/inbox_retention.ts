/**
 * Inbox retention (issue 15 item 8): each service deletes its own inbox rows
 * once no copy of their message can come back. A message comes back when a
 * consumer is rewound (Kafka keeps a record as long as its topic's
 * retention, at most 30 days, SPEC §3.2) or when an event is re-sent (the
 * relay's replay from its event store reaches back RELAY_RETENTION_DAYS, 7
 * days; a re-sent record then stays in Kafka for the topic's retention). So
 * a claim must outlive
 *
 *   longest topic retention + replay window   (30 + 7 = 37 days by default)
 *
 * and the default keeps it 3 days longer (40). A shorter INBOX_RETENTION_DAYS
 * is refused: a redelivery after its claim went would be handled twice.
 *
 * @module
 */
import { cleanupInbox, type Sql } from "../db/mod.ts";
import { EVENT_TOPICS } from "../kafka/mod.ts";
import { ConfigError, envInt } from "./env.ts";
import type { Logger } from "./log.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Slack over the rule: clocks, a replay that takes a while, a consumer far behind. */
const MARGIN_DAYS = 3;

export interface InboxRetentionConfig {
  /** INBOX_RETENTION_DAYS: claims older than this go (default: the rule above + 3 days). */
  retentionMs: number;
  /** INBOX_CLEANUP_INTERVAL_MS: how often a service cleans its inbox (default 1 h). */
  intervalMs: number;
}

/** The shortest safe inbox retention: longest topic retention + the replay window. */
export function minimumInboxRetentionMs(): number {
  const longestTopic = Math.max(...EVENT_TOPICS.map((t) => t.retentionMs));
  // The relay's event store: how old an event it re-sends may be (outbox-relay/config.ts).
  const replayWindow = envInt("RELAY_RETENTION_DAYS", 7, 0) * DAY_MS;
  return longestTopic + replayWindow;
}

/** The inbox retention settings, read from the environment (a service's config.ts calls it). */
export function loadInboxRetention(): InboxRetentionConfig {
  const minimumDays = Math.ceil(minimumInboxRetentionMs() / DAY_MS);
  const days = envInt("INBOX_RETENTION_DAYS", minimumDays + MARGIN_DAYS, 1, 36_500);
  if (days < minimumDays) {
    throw new ConfigError(
      `INBOX_RETENTION_DAYS=${days} is shorter than the longest topic retention plus the ` +
        `replay window (${minimumDays} days): a message redelivered after its inbox claim ` +
        `went would be handled twice`,
    );
  }
  return {
    retentionMs: days * DAY_MS,
    intervalMs: envInt("INBOX_CLEANUP_INTERVAL_MS", 60 * 60 * 1000, 1_000, 2_147_483_647),
  };
}

/** A running inbox cleanup; stop() waits for a pass under way. */
export interface InboxCleanup {
  stop(): Promise<void>;
}

/**
 * Cleans `schema`'s inbox now and every `intervalMs`, as the service's own
 * role. A failed pass is logged and tried again at the next interval; every
 * instance of a service may run it (deleting the same old rows twice is
 * harmless).
 */
export function scheduleInboxCleanup(
  opts: { sql: Sql; log: Logger; schema: string } & InboxRetentionConfig,
): InboxCleanup {
  const { sql, log, schema, retentionMs, intervalMs } = opts;
  let running: Promise<void> = Promise.resolve();
  const pass = () => {
    running = running.then(async () => {
      try {
        const deleted = await cleanupInbox(sql, { retentionMs, schemas: [schema] });
        if (deleted[schema] > 0) {
          log.info("inbox retention", {
            schema,
            deleted: deleted[schema],
            retention_ms: retentionMs,
          });
        }
      } catch (err) {
        log.warn("inbox retention failed", { schema, error: err });
      }
    });
  };
  pass();
  const timer = setInterval(pass, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
