select "order_id", "line_no", count(*) as n_records
from "memory"."main"."orders"
group by "order_id", "line_no"
having count(*) > 1
