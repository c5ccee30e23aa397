with __ephemeral_eph_orders as (

select order_id, amount from "main"."orders"
)
select order_id from __ephemeral_eph_orders
