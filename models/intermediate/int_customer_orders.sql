-- One row per customer who ever ordered: order counts, value and timing.
with orders as (
    select * from {{ ref('int_order_totals') }}
),

sequenced as (
    select
        *,
        date_diff(
            'day',
            lag(ordered_at) over (partition by customer_id order by ordered_at, order_id),
            ordered_at
        ) as days_since_previous_order
    from orders
)

select
    customer_id,
    min(ordered_at) as first_order_at,
    max(ordered_at) as last_order_at,
    count(*) as order_count,
    count(*) filter (where is_revenue) as revenue_order_count,
    count(*) filter (where status = 'returned') as returned_order_count,
    count(*) filter (where status = 'cancelled') as cancelled_order_count,
    {{ money('sum(recognised_revenue)') }} as net_revenue,
    {{ money('sum(gross_margin)') }} as gross_margin,
    {{ money(safe_divide('sum(recognised_revenue)', 'count(*) filter (where is_revenue)')) }}
        as average_order_value,
    avg(days_since_previous_order) as average_days_between_orders
from sequenced
group by customer_id
