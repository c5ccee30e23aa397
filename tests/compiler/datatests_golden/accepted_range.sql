select *
from "memory"."main"."orders"
where "amount" < 0 or "amount" > 100
