select o.order_id, c.name
from "warehouse"."main"."orders" o
join "warehouse"."main"."customers" c using (customer_id)
