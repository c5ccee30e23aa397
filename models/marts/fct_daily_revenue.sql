{{ config(tags=['finance']) }}

-- One row per calendar day between the first and the last order, days without orders
-- included, with a trailing 7-day revenue.
with orders as (
    select * from {{ ref('fct_orders') }}
),

bounds as (
    select min(order_date) as first_date, max(order_date) as last_date
    from orders
),

calendar as (
    select cast(day as date) as revenue_date
    from bounds, range(first_date, last_date + interval 1 day, interval 1 day) as days(day)
),

daily as (
    select
        order_date,
        count(*) as order_count,
        count(*) filter (where is_revenue) as revenue_order_count,
        count(*) filter (where is_first_order) as first_order_count,
        count(*) filter (where is_high_value) as high_value_order_count,
        count(distinct customer_id) as customer_count,
        sum(order_total) as booked_amount,
        sum(recognised_revenue) as revenue,
        sum(gross_margin) as gross_margin,
        sum(discount_amount) as discount_amount
    from orders
    group by order_date
),

filled as (
    select
        calendar.revenue_date,
        coalesce(daily.order_count, 0) as order_count,
        coalesce(daily.revenue_order_count, 0) as revenue_order_count,
        coalesce(daily.first_order_count, 0) as first_order_count,
        coalesce(daily.high_value_order_count, 0) as high_value_order_count,
        coalesce(daily.customer_count, 0) as customer_count,
        {{ money('coalesce(daily.booked_amount, 0)') }} as booked_amount,
        {{ money('coalesce(daily.revenue, 0)') }} as revenue,
        {{ money('coalesce(daily.gross_margin, 0)') }} as gross_margin,
        {{ money('coalesce(daily.discount_amount, 0)') }} as discount_amount
    from calendar
    left join daily on calendar.revenue_date = daily.order_date
)

select
    *,
    {{ money(safe_divide('revenue', 'revenue_order_count')) }} as average_order_value,
    {{ money('sum(revenue) over (order by revenue_date rows between 6 preceding and current row)') }}
        as revenue_7d
from filled
