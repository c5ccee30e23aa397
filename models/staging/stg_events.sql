{{ config(materialized='incremental', incremental_strategy='time_range',
          event_time='occurred_at', begin='2026-01-01', batch_size='day') }}

-- One row per click-stream event. The collector delivers some events twice: keep one.
-- Incremental by day of occurred_at: a run parses only the days not built yet.
with source as (
    select *
    from {{ source('shop_raw', 'events') }}
    where "date" >= {{ start }}::date and "date" < {{ end }}::date
),

deduplicated as (
    select *
    from source
    qualify row_number() over (partition by event_id order by occurred_at) = 1
)

select
    event_id,
    customer_id,
    session_id,
    {{ clean_text('event_type') }} as event_type,
    {{ clean_text('platform') }} as platform,
    product_id,
    strptime(occurred_at, '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
    "date" as event_date,
    properties ->> '$.query' as search_query,
    cast(properties ->> '$.order_id' as bigint) as order_id,
    cast(properties ->> '$.revenue' as decimal(18, 2)) as revenue,
    properties ->> '$.device.app_version' as app_version,
    properties
from deduplicated
