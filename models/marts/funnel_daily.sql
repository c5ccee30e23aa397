-- One row per day and platform: how many sessions reached each step of the purchase
-- funnel, and the conversion between steps.
with sessions as (
    select * from {{ ref('int_sessions') }}
),

daily as (
    select
        session_date,
        platform,
        count(*) as sessions,
        count(*) filter (where customer_id is not null) as identified_sessions,
        count(*) filter (where product_views > 0) as product_view_sessions,
        count(*) filter (where add_to_carts > 0) as add_to_cart_sessions,
        count(*) filter (where checkouts > 0) as checkout_sessions,
        count(*) filter (where purchases > 0) as purchase_sessions,
        sum(revenue) as revenue
    from sessions
    group by all
)

select
    session_date,
    platform,
    sessions,
    identified_sessions,
    product_view_sessions,
    add_to_cart_sessions,
    checkout_sessions,
    purchase_sessions,
    {{ money('revenue') }} as revenue,
    {{ safe_divide('product_view_sessions', 'sessions') }} as view_rate,
    {{ safe_divide('add_to_cart_sessions', 'product_view_sessions') }} as cart_rate,
    {{ safe_divide('checkout_sessions', 'add_to_cart_sessions') }} as checkout_rate,
    {{ safe_divide('purchase_sessions', 'checkout_sessions') }} as purchase_rate,
    {{ safe_divide('purchase_sessions', 'sessions') }} as conversion_rate
from daily
