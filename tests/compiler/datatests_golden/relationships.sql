select *
from "memory"."main"."orders" as child
where child."customer_id" is not null
  and not exists (
    select 1 from "memory"."main"."customers" as parent
    where parent."id" = child."customer_id"
  )
