-- Order status changes reach every order instance in one hop (issue #16):
-- the outbox row of an order event (OrderPlaced, OrderCompleted,
-- OrderCancelled) is also announced on the channel `order_status` with
-- pg_notify, which Postgres delivers when — and only if — the transaction
-- commits, to every session that LISTENs (services/order/notifications.ts).
-- The relay still publishes the event to order-events as before.
-- The payload stays small: pg_notify refuses more than 8000 bytes, and that
-- error would fail the order's transaction, so ids, the status event, a
-- shortened reason, the mode, the time and the writer's traceparent — never
-- the items.

create function orders.notify_order_status() returns trigger
language plpgsql as $$
begin
  perform pg_notify('order_status', json_build_object(
    'eventId', new.event_id,
    'type', new.event_type,
    'orderId', new.payload->>'orderId',
    'userId', left(new.payload->>'userId', 200),
    'reason', left(new.payload->>'reason', 500),
    'mode', new.payload->>'mode',
    'at', new.created_at,
    'traceparent', left(new.headers->>'traceparent', 100)
  )::text);
  return null;
end
$$;

create trigger outbox_notify_order_status
  after insert on orders.outbox
  for each row
  when (new.aggregate_type = 'order'
        and new.event_type in ('OrderPlaced', 'OrderCompleted', 'OrderCancelled'))
  execute function orders.notify_order_status();
