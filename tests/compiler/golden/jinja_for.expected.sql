select
    sum(case when country = 'NL' then amount end) as amount_nl,
    sum(case when country = 'BE' then amount end) as amount_be,
    sum(case when country = 'DE' then amount end) as amount_de
from "warehouse"."main"."orders"
