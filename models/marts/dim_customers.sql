-- One row per customer with lifetime order and support stats and a lifecycle stage.
with customers as (
    select * from {{ ref('stg_customers') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

tickets as (
    select * from {{ ref('stg_support_tickets') }}
),

customer_tickets as (
    select
        customer_id,
        count(*) as ticket_count,
        avg(satisfaction_score) as average_satisfaction
    from tickets
    group by customer_id
),

countries as (
    select * from {{ ref('country_codes') }}
),

reference_date as (
    -- the data's own "today", so results do not depend on when the project runs
    select max(order_date) as as_of_date from {{ ref('stg_orders') }}
),

joined as (
    select
        customers.customer_id,
        customers.email,
        customers.first_name,
        customers.last_name,
        customers.country_code,
        countries.country_name,
        countries.region,
        customers.signup_at,
        customers.signup_date,
        customers.marketing_opt_in,
        customer_orders.first_order_at,
        customer_orders.last_order_at,
        coalesce(customer_orders.order_count, 0) as order_count,
        coalesce(customer_orders.revenue_order_count, 0) as revenue_order_count,
        coalesce(customer_orders.returned_order_count, 0) as returned_order_count,
        coalesce(customer_orders.net_revenue, 0) as lifetime_revenue,
        coalesce(customer_orders.gross_margin, 0) as lifetime_margin,
        customer_orders.average_order_value,
        coalesce(customer_tickets.ticket_count, 0) as ticket_count,
        customer_tickets.average_satisfaction,
        date_diff('day', customer_orders.last_order_at::date, reference_date.as_of_date)
            as days_since_last_order
    from customers
    cross join reference_date
    left join customer_orders on customers.customer_id = customer_orders.customer_id
    left join customer_tickets on customers.customer_id = customer_tickets.customer_id
    left join countries on customers.country_code = countries.country_code
)

select
    *,
    case
        when order_count = 0 then 'prospect'
        when days_since_last_order <= {{ var('active_customer_days') }} then 'active'
        else 'lapsed'
    end as lifecycle_stage
from joined
