-- One row per product, prices parsed from text.
with source as (
    select *
    from read_csv(
        '{{ var("raw_path") }}/products.csv',
        header = true,
        columns = {
            'product_id': 'bigint',
            'sku': 'varchar',
            'name': 'varchar',
            'category': 'varchar',
            'unit_price': 'varchar',
            'cost': 'varchar',
            'active': 'boolean',
            'updated_at': 'timestamp'
        }
    )
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
