{{ config(tags=['finance']) }}

-- One row per order, with its value and its place in the customer's order history.
with orders as (
    select * from {{ ref('int_order_totals') }}
),

sequenced as (
    select
        *,
        row_number() over (
            partition by customer_id order by ordered_at, order_id
        ) as customer_order_number,
        lag(ordered_at) over (
            partition by customer_id order by ordered_at, order_id
        ) as previous_ordered_at
    from orders
)

select
    order_id,
    customer_id,
    ordered_at,
    order_date,
    status,
    channel,
    coupon_code,
    customer_order_number,
    customer_order_number = 1 as is_first_order,
    date_diff('day', previous_ordered_at, ordered_at) as days_since_previous_order,
    line_count,
    unit_count,
    gross_amount,
    discount_amount,
    net_item_amount,
    shipping_cost,
    order_total,
    cost_amount,
    is_revenue,
    recognised_revenue,
    gross_margin,
    order_total >= {{ var('high_value_threshold') }} as is_high_value
from sequenced
