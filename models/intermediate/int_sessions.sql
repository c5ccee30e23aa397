-- One row per session. The client's session id is split where the visitor was inactive
-- for longer than var('session_timeout_minutes'); a visitor who logs in during a session
-- makes the whole session theirs.
with events as (
    select * from {{ ref('stg_events') }}
),

flagged as (
    select
        *,
        coalesce(
            date_diff(
                'second',
                lag(occurred_at) over (partition by session_id order by occurred_at, event_id),
                occurred_at
            ) > {{ var('session_timeout_minutes') }} * 60,
            false
        ) as starts_new_session
    from events
),

numbered as (
    select
        *,
        sum(starts_new_session::integer) over (
            partition by session_id
            order by occurred_at, event_id
            rows unbounded preceding
        ) as session_number
    from flagged
)

select
    session_id || '-' || session_number as session_key,
    session_id as client_session_id,
    max(customer_id) as customer_id,
    min(platform) as platform,
    min(occurred_at) as started_at,
    max(occurred_at) as ended_at,
    min(occurred_at)::date as session_date,
    date_diff('second', min(occurred_at), max(occurred_at)) as duration_seconds,
    count(*) as event_count,
    count(*) filter (where event_type = 'page_view') as page_views,
    count(*) filter (where event_type = 'search') as searches,
    count(*) filter (where event_type = 'product_view') as product_views,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(*) filter (where event_type = 'checkout') as checkouts,
    count(*) filter (where event_type = 'purchase') as purchases,
    max(order_id) as order_id,
    {{ money('coalesce(sum(revenue), 0)') }} as revenue
from numbered
group by session_id, session_number
