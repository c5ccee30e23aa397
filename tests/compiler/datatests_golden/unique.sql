select "order_id", count(*) as n_records
from "memory"."main"."orders"
where "order_id" is not null
group by "order_id"
having count(*) > 1
