select order_id
from "main"."orders"
where amount >= 10
