select customer_id, total from "analytics"."totals"
