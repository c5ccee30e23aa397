select count(*) as row_count
from "memory"."main"."orders"
having count(*) < 1 or count(*) > 1000000
