-- The latest day's orders: their average value and the share of high-value ones.
with latest as (
    select * from {{ ref('fct_orders') }}
    where order_date = (select max(order_date) from {{ ref('fct_orders') }})
)

select 'avg_order_total' as name, avg(order_total) as value from latest
union all
select 'high_value_share', avg(is_high_value::integer) from latest
