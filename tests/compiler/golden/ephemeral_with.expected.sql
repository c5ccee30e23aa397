-- Ephemeral parents join the model's own WITH clause.
with __ephemeral_eph_orders as (

select order_id, amount from "warehouse"."main"."orders"
), big as (
    select order_id from __ephemeral_eph_orders where amount > 10
)
select order_id from big
