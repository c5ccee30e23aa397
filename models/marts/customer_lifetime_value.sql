{{ config(tags=['ml'], meta={'owner': 'growth-analytics'}) }}

-- One row per customer who ordered: RFM scores and a simple projection of the margin the
-- customer brings in over the next var('clv_horizon_days') days.
with customers as (
    select * from {{ ref('dim_customers') }}
    where order_count > 0
),

reference_date as (
    select max(order_date) as as_of_date from {{ ref('fct_orders') }}
),

history as (
    select
        customers.customer_id,
        customers.country_code,
        customers.lifecycle_stage,
        customers.order_count,
        customers.revenue_order_count,
        customers.lifetime_revenue,
        customers.lifetime_margin,
        customers.average_order_value,
        customers.days_since_last_order,
        date_diff('day', customers.first_order_at::date, reference_date.as_of_date) + 1
            as tenure_days
    from customers
    cross join reference_date
),

scored as (
    select
        *,
        ntile(5) over (order by days_since_last_order desc, customer_id) as recency_score,
        ntile(5) over (order by order_count, customer_id) as frequency_score,
        ntile(5) over (order by lifetime_revenue, customer_id) as monetary_score,
        case lifecycle_stage when 'active' then 0.8 else 0.3 end as retention_rate
    from history
),

projected as (
    select
        *,
        {{ safe_divide('lifetime_margin', 'greatest(tenure_days, 30)') }}
            * {{ var('clv_horizon_days') }} * retention_rate as projected_margin
    from scored
)

select
    customer_id,
    country_code,
    lifecycle_stage,
    order_count,
    revenue_order_count,
    lifetime_revenue,
    lifetime_margin,
    average_order_value,
    days_since_last_order,
    tenure_days,
    recency_score,
    frequency_score,
    monetary_score,
    recency_score::varchar || frequency_score::varchar || monetary_score::varchar as rfm_cell,
    {{ money('projected_margin') }} as projected_margin,
    {{ money('lifetime_margin + projected_margin') }} as customer_lifetime_value,
    case
        when recency_score >= 4 and frequency_score >= 4 then 'champion'
        when recency_score >= 3 and monetary_score >= 4 then 'loyal'
        when recency_score <= 2 and monetary_score >= 4 then 'at_risk'
        when recency_score <= 2 then 'hibernating'
        else 'promising'
    end as rfm_segment
from projected
