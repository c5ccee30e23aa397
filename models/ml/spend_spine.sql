-- The spend model's spine: one row per customer (who had ordered by then) and month start,
-- labelled with the revenue the customer brings in the next 30 days (0 without an order).
with orders as (
    select customer_id, ordered_at, recognised_revenue from {{ ref('int_order_totals') }}
),

snapshots as (
    select unnest(generate_series(
        date_trunc('month', min(ordered_at))::timestamp + interval 1 month,
        max(ordered_at) - interval 30 day,
        interval 1 month
    )) as as_of
    from orders
),

activity as (
    select
        snapshots.as_of,
        orders.customer_id,
        count(*) filter (where orders.ordered_at <= snapshots.as_of) as orders_before,
        coalesce(sum(orders.recognised_revenue) filter (
            where orders.ordered_at > snapshots.as_of
            and orders.ordered_at <= snapshots.as_of + interval 30 day
        ), 0)::double as spend_next_30d
    from snapshots
    cross join orders
    group by all
)

select
    activity.customer_id,
    activity.as_of,
    date_diff('day', customers.signup_at, activity.as_of) as days_since_signup,
    activity.spend_next_30d
from activity
join {{ ref('stg_customers') }} as customers using (customer_id)
where activity.orders_before > 0
order by activity.as_of, activity.customer_id
