-- Who the churn model scores now: every customer who has ordered, as of the latest order in
-- the data (the shop's "today"). Same columns as churn_spine without the label, so the
-- customers get the feature views' values known at that time, as in training.
with orders as (
    select customer_id, ordered_at from {{ ref('int_order_totals') }}
),

today as (
    select max(ordered_at) as as_of from orders
)

select
    customers.customer_id,
    today.as_of,
    date_diff('day', customers.signup_at, today.as_of) as days_since_signup
from {{ ref('stg_customers') }} as customers
cross join today
where customers.customer_id in (select customer_id from orders)
order by customers.customer_id
