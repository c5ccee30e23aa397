-- One row per order with its value: the single definition of order revenue and margin.
-- Revenue is recognised for orders that were neither cancelled nor returned.
with orders as (
    select * from {{ ref('stg_orders') }}
),

order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

item_totals as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity)::bigint as unit_count,
        sum(gross_amount) as gross_amount,
        sum(discount) as discount_amount,
        sum(net_amount) as net_item_amount,
        sum(cost_amount) as cost_amount
    from order_items
    group by order_id
),

valued as (
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.channel,
        orders.coupon_code,
        coalesce(item_totals.line_count, 0) as line_count,
        coalesce(item_totals.unit_count, 0) as unit_count,
        {{ money('coalesce(item_totals.gross_amount, 0)') }} as gross_amount,
        {{ money('coalesce(item_totals.discount_amount, 0)') }} as discount_amount,
        {{ money('coalesce(item_totals.net_item_amount, 0)') }} as net_item_amount,
        {{ money('coalesce(orders.shipping_cost, 0)') }} as shipping_cost,
        {{ money('coalesce(item_totals.cost_amount, 0)') }} as cost_amount,
        orders.status not in ('cancelled', 'returned') as is_revenue
    from orders
    left join item_totals on orders.order_id = item_totals.order_id
)

select
    *,
    {{ money('net_item_amount + shipping_cost') }} as order_total,
    {{ money('case when is_revenue then net_item_amount + shipping_cost else 0 end') }}
        as recognised_revenue,
    {{ money('case when is_revenue then net_item_amount - cost_amount else 0 end') }}
        as gross_margin
from valued
