with __ephemeral_eph_orders as (

select order_id, amount from "warehouse"."main"."orders"
)
/* A set operation gets the ephemeral CTEs in front of it. */
select order_id from __ephemeral_eph_orders
union all
select order_id from "warehouse"."main"."orders"
