-- The console's admin list (GET /admin/orders) reads every user's orders
-- newest first; without this index that is a sort of the whole table.
create index if not exists orders_by_time on orders.orders (created_at desc);
