{{ config(materialized='ephemeral') }}

-- Order lines with their product's category and cost. Ephemeral: inlined as a CTE
-- into the models that use it.
with order_items as (
    select * from {{ ref('stg_order_items') }}
),

products as (
    select * from {{ ref('stg_products') }}
)

select
    order_items.order_item_id,
    order_items.order_id,
    order_items.product_id,
    products.category,
    order_items.quantity,
    order_items.unit_price,
    order_items.discount,
    order_items.unit_price * order_items.quantity as gross_amount,
    order_items.unit_price * order_items.quantity - order_items.discount as net_amount,
    products.unit_cost * order_items.quantity as cost_amount
from order_items
left join products on order_items.product_id = products.product_id
