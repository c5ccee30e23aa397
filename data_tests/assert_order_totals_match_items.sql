-- Every order's total is its items net of discount plus shipping: rows returned here are
-- orders whose figures do not add up.
select
    orders.order_id,
    orders.order_total,
    orders.net_item_amount + orders.shipping_cost as expected_total
from {{ ref('fct_orders') }} as orders
where orders.order_total <> orders.net_item_amount + orders.shipping_cost
