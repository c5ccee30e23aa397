select order_id
from "warehouse"."main"."orders"
where amount >= 10
