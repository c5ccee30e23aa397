-- One row per product with what it sold, how often it was viewed and returned.
with products as (
    select * from {{ ref('stg_products') }}
),

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

orders as (
    select * from {{ ref('int_order_totals') }}
),

events as (
    select * from {{ ref('stg_events') }}
),

sales as (
    select
        order_items.product_id,
        count(distinct order_items.order_id) as order_count,
        sum(order_items.quantity)::bigint as units_sold,
        sum(order_items.net_amount) filter (where orders.is_revenue) as revenue,
        sum(order_items.net_amount - order_items.cost_amount)
            filter (where orders.is_revenue) as gross_margin,
        count(distinct order_items.order_id) filter (where orders.status = 'returned')
            as returned_order_count
    from order_items
    inner join orders on order_items.order_id = orders.order_id
    group by order_items.product_id
),

views as (
    select
        product_id,
        count(*) filter (where event_type = 'product_view') as view_count,
        count(*) filter (where event_type = 'add_to_cart') as add_to_cart_count
    from events
    where product_id is not null
    group by product_id
)

select
    products.product_id,
    products.sku,
    products.product_name,
    products.category,
    products.unit_price,
    products.unit_cost,
    {{ money('products.unit_price - products.unit_cost') }} as unit_margin,
    products.is_active,
    coalesce(sales.order_count, 0) as order_count,
    coalesce(sales.units_sold, 0) as units_sold,
    {{ money('coalesce(sales.revenue, 0)') }} as revenue,
    {{ money('coalesce(sales.gross_margin, 0)') }} as gross_margin,
    {{ safe_divide('sales.returned_order_count', 'sales.order_count') }} as return_rate,
    coalesce(views.view_count, 0) as view_count,
    coalesce(views.add_to_cart_count, 0) as add_to_cart_count,
    {{ safe_divide('sales.order_count', 'views.view_count') }} as view_to_order_rate
from products
left join sales on products.product_id = sales.product_id
left join views on products.product_id = views.product_id
