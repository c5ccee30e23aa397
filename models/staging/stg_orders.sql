{{ config(materialized='incremental', unique_key='order_id') }}

-- One row per order. The raw export is append-only: an order appears again, with a
-- later updated_at, whenever its status changes. Incremental: each run merges the versions
-- written since the newest one already in the table, keeping the latest of each order.
with source as (
    select *
    from {{ source('shop_raw', 'orders') }}
    {% if is_incremental() %}
    where updated_at >= (select max(updated_at) from {{ this }})
    {% endif %}
),

latest as (
    select *
    from source
    qualify row_number() over (partition by order_id order by updated_at desc) = 1
)

select
    order_id,
    customer_id,
    ordered_at,
    ordered_at::date as order_date,
    {{ clean_text('status') }} as status,
    {{ clean_text('channel') }} as channel,
    upper(nullif(trim(coupon_code), '')) as coupon_code,
    {{ parse_money('shipping_cost') }} as shipping_cost,
    updated_at
from latest
