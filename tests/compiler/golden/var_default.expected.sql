select order_id
from "warehouse"."main"."orders"
where amount >= 10
  and order_id > 0
  and country <> 'XX'
