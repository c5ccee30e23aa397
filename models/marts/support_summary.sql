{{ config(schedule='0 6 * * *') }}

-- One row per week and ticket category: volume, speed, satisfaction, and tickets per
-- 100 orders placed that week.
with tickets as (
    select * from {{ ref('stg_support_tickets') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

weekly_tickets as (
    select
        date_trunc('week', opened_at)::date as week_start,
        category,
        count(*) as ticket_count,
        count(*) filter (where not is_closed) as open_ticket_count,
        count(*) filter (where order_id is not null) as order_ticket_count,
        count(*) filter (where priority in ('high', 'urgent')) as urgent_ticket_count,
        avg(resolution_hours) as average_resolution_hours,
        quantile_cont(resolution_hours, 0.5) as median_resolution_hours,
        count(satisfaction_score) as satisfaction_responses,
        avg(satisfaction_score) as average_satisfaction
    from tickets
    group by all
),

weekly_orders as (
    select
        date_trunc('week', order_date)::date as week_start,
        count(*) as order_count
    from orders
    group by all
)

select
    weekly_tickets.*,
    coalesce(weekly_orders.order_count, 0) as order_count,
    {{ safe_divide('100.0 * weekly_tickets.ticket_count', 'weekly_orders.order_count') }}
        as tickets_per_100_orders
from weekly_tickets
left join weekly_orders on weekly_tickets.week_start = weekly_orders.week_start
