-- Admission control of POST /orders (issue #17, services/order/admission/)
-- reads, several times a second in every order instance, how many sagas
-- finished in the last few seconds: without this index that is a scan of
-- every order ever placed.
create index if not exists orders_finished on orders.orders (finished_at)
  where finished_at is not null;
-- ... and, inside each order's transaction, how many sagas its user has in
-- flight: a small partial index (only unfinished orders are in it).
create index if not exists orders_in_flight_by_user on orders.orders (user_id)
  where status in ('PENDING', 'COMPENSATING');
