select o.order_id, c.name
from {{ ref('orders') }} o
join {{ref("customers")}} c using (customer_id)
