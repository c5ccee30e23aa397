select *
from "memory"."main"."orders"
where "placed" <= date '2024-01-01' or "placed" >= '2024-12-31'
