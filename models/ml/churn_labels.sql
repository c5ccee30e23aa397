-- The churn labels as they land: a customer scored at as_of churned when they placed no order
-- in the churn_horizon_days after it, which is known only once that horizon has passed in the
-- data. Until then a score has no label, and the churn_performance monitor skips its day.
with orders as (
    select customer_id, ordered_at from {{ ref('int_order_totals') }}
),

today as (
    select max(ordered_at) as now from orders
),

known as (
    select log.customer_id, log.as_of
    from {{ ref('churn_score_log') }} as log
    cross join today
    where log.as_of + to_days({{ var('churn_horizon_days') }}) <= today.now
)

select
    known.customer_id,
    known.as_of,
    (count(orders.customer_id) = 0)::integer as churned
from known
left join orders
    on orders.customer_id = known.customer_id
    and orders.ordered_at > known.as_of
    and orders.ordered_at <= known.as_of + to_days({{ var('churn_horizon_days') }})
group by known.customer_id, known.as_of
