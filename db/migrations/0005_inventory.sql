-- The inventory service's state (services/inventory/): products with their
-- stock, and one row per order line it was asked about, so that every stock
-- command is decided once and a compensation can find what it undoes.

create table inventory.products (
  id text primary key check (id <> ''),
  name text not null check (name <> ''),
  -- In the currency's smallest unit (won): whole numbers, no rounding.
  price bigint not null check (price >= 0),
  -- Never below zero: a deduction that would overdraw it is refused
  -- (`update … set stock = stock - q where stock >= q`), and this is the backstop.
  stock integer not null check (stock >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One row per (order, line), created by whichever command for the line comes
-- first: a StockDeductionRequested (PENDING, then DEDUCTED or FAILED in the
-- same transaction) or a StockRestoreRequested that overtook it (CANCELLED:
-- the tombstone that makes the late deduction be refused). The primary key is
-- what serialises the two: the second insert waits for the first to commit.
--   DEDUCTED  → RESTORED   (compensation gave the stock back)
--   FAILED, RESTORED, CANCELLED are final.
create table inventory.deductions (
  order_id text not null check (order_id <> ''),
  line integer not null check (line >= 0),
  -- No foreign key: a tombstone or a failed line may name an unknown product.
  product_id text not null check (product_id <> ''),
  quantity integer not null check (quantity > 0),
  state text not null check (state in ('PENDING', 'DEDUCTED', 'FAILED', 'RESTORED', 'CANCELLED')),
  reason text check (reason in ('insufficient_stock', 'unknown_product', 'order_cancelled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (order_id, line),
  check ((state = 'FAILED') = (reason is not null))
);
create index deductions_product_idx on inventory.deductions (product_id);
