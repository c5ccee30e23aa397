select o.order_id, c.name
from "main"."orders" o
join "main"."customers" c using (customer_id)
