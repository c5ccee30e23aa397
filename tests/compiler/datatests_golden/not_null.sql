select *
from "memory"."main"."orders"
where "order_id" is null
