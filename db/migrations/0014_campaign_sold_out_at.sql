-- When a campaign's last coupon was stored (null while any is left): the
-- console shows it, and it tells how fast a burst sold out (SPEC §12.2).
alter table coupons.campaigns add column sold_out_at timestamptz;
update coupons.campaigns c set sold_out_at = (
  select max(created_at) from coupons.coupons where campaign_id = c.id
) where issued = total;
