select order_id, (amount * 100)::bigint as amount_cents
from "warehouse"."main"."orders"
