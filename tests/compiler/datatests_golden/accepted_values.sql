select "status", count(*) as n_records
from "memory"."main"."orders"
where "status" not in ('placed', 'it''s')
group by "status"
