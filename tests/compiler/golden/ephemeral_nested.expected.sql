with __ephemeral_eph_orders as (

select order_id, amount from "warehouse"."main"."orders"
),
__ephemeral_eph_big_orders as (

select order_id from __ephemeral_eph_orders where amount > 100
)
select b.order_id, o.amount
from __ephemeral_eph_big_orders b
join __ephemeral_eph_orders o using (order_id)
