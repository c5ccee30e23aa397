WITH RECURSIVE days(n) as (
    select 1 union all select n + 1 from days where n < 3
)
select n, o.order_id from days join {{ ref('eph_orders') }} o on o.order_id = days.n
