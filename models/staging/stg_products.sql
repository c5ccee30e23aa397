-- One row per product, prices parsed from text.
with source as (
    select *
    from {{ source('shop_raw', 'products') }}
)

select
    product_id,
    upper(trim(sku)) as sku,
    trim(name) as product_name,
    {{ clean_text('category') }} as category,
    {{ parse_money('unit_price') }} as unit_price,
    {{ parse_money('cost') }} as unit_cost,
    active as is_active,
    updated_at
from source
