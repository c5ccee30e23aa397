select "order_id", count(*) as n_records
from "memory"."main"."orders"
where "order_id" not in (1, 2.5, true, 1 + 1)
group by "order_id"
