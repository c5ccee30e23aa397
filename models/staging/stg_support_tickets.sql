-- One row per support ticket. A ticket appears again in the raw export when it is closed;
-- keep the closed version.
with source as (
    select *
    from {{ source('shop_raw', 'support_tickets') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by ticket_id
        order by closed_at desc nulls last
    ) = 1
)

select
    ticket_id,
    customer_id,
    order_id,
    opened_at,
    closed_at,
    closed_at is not null as is_closed,
    date_diff('minute', opened_at, closed_at) / 60.0 as resolution_hours,
    {{ clean_text('channel') }} as channel,
    {{ clean_text('category') }} as category,
    {{ clean_text('priority') }} as priority,
    satisfaction_score
from latest
