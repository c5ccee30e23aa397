-- One row per order line.
with source as (
    select *
    from read_csv(
        '{{ var("raw_path") }}/order_items.csv',
        header = true,
        columns = {
            'order_item_id': 'bigint',
            'order_id': 'bigint',
            'product_id': 'bigint',
            'quantity': 'integer',
            'unit_price': 'varchar',
            'discount': 'varchar'
        }
    )
)

select
    order_item_id,
    order_id,
    product_id,
    quantity,
    {{ parse_money('unit_price') }} as unit_price,
    coalesce({{ parse_money('discount') }}, 0) as discount
from source
