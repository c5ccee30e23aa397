select customer_id, total from "warehouse"."analytics"."totals"
