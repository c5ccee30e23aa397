select b.order_id, o.amount
from {{ ref('eph_big_orders') }} b
join {{ ref('eph_orders') }} o using (order_id)
