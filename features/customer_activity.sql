-- Each customer's order history as known at the start of each week: one row per customer
-- (who had ordered by then) and week. Only orders placed before feature_at count.
with orders as (
    select customer_id, ordered_at, recognised_revenue from {{ ref('int_order_totals') }}
),

weeks as (
    select unnest(generate_series(
        date_trunc('week', min(ordered_at))::timestamp + interval 7 day,
        date_trunc('week', max(ordered_at))::timestamp + interval 7 day,
        interval 7 day
    )) as feature_at
    from orders
)

select
    orders.customer_id,
    weeks.feature_at,
    count(*) filter (where orders.ordered_at >= weeks.feature_at - interval 30 day) as orders_30d,
    count(*) filter (where orders.ordered_at >= weeks.feature_at - interval 90 day) as orders_90d,
    coalesce(sum(orders.recognised_revenue) filter (
        where orders.ordered_at >= weeks.feature_at - interval 90 day
    ), 0)::double as revenue_90d,
    count(*) as lifetime_orders,
    coalesce(sum(orders.recognised_revenue), 0)::double as lifetime_revenue,
    date_diff('day', max(orders.ordered_at), weeks.feature_at) as days_since_last_order
from weeks
join orders on orders.ordered_at < weeks.feature_at
group by orders.customer_id, weeks.feature_at
