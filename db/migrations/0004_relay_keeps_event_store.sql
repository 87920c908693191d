-- The outbox tables double as the event store (SPEC §11: "re-send from an
-- event store"). The relay keeps it: it removes rows past their retention,
-- and only rows it has published (outbox-relay/relay.ts schedules
-- db/retention.ts's cleanupOutbox). It still cannot insert or update them.
grant delete on orders.outbox, inventory.outbox, coupons.outbox, points.outbox to outbox_relay;
