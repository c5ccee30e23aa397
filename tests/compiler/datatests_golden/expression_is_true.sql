select *
from "memory"."main"."orders"
where not (amount >= 0)
