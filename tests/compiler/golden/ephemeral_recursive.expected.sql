with recursive __ephemeral_eph_orders as (

select order_id, amount from "warehouse"."main"."orders"
), days(n) as (
    select 1 union all select n + 1 from days where n < 3
)
select n, o.order_id from days join __ephemeral_eph_orders o on o.order_id = days.n
