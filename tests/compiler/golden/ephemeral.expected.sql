with __ephemeral_eph_orders as (

select order_id, amount from "warehouse"."main"."orders"
)
select order_id from __ephemeral_eph_orders
