-- One row per order line.
with source as (
    select *
    from {{ source('shop_raw', 'order_items') }}
)

select
    order_item_id,
    order_id,
    product_id,
    quantity,
    {{ parse_money('unit_price') }} as unit_price,
    coalesce({{ parse_money('discount') }}, 0) as discount
from source
