select *
from (select * from "memory"."main"."orders" where status <> 'cancelled')
where "order" is null
