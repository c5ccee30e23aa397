-- The churn model's spine: one row per customer and month start (the as-of time) for every
-- customer who had ordered by then. churned: no order in the next churn_horizon_days days.
-- Only snapshots whose whole horizon lies within the data are kept, so every label is known.
-- days_since_signup is known at the as-of time, so it is a feature; the rest come from the
-- feature views, joined point in time.
with orders as (
    select customer_id, ordered_at from {{ ref('int_order_totals') }}
),

snapshots as (
    select unnest(generate_series(
        date_trunc('month', min(ordered_at))::timestamp + interval 1 month,
        max(ordered_at) - to_days({{ var('churn_horizon_days') }}),
        interval 1 month
    )) as as_of
    from orders
),

activity as (
    select
        snapshots.as_of,
        orders.customer_id,
        count(*) filter (where orders.ordered_at <= snapshots.as_of) as orders_before,
        count(*) filter (
            where orders.ordered_at > snapshots.as_of
            and orders.ordered_at <= snapshots.as_of + to_days({{ var('churn_horizon_days') }})
        ) as orders_after
    from snapshots
    cross join orders
    group by all
)

select
    activity.customer_id,
    activity.as_of,
    date_diff('day', customers.signup_at, activity.as_of) as days_since_signup,
    activity.orders_after = 0 as churned
from activity
join {{ ref('stg_customers') }} as customers using (customer_id)
where activity.orders_before > 0
order by activity.as_of, activity.customer_id
