select "region", "customer_id", count(*) as n from "__sqlml_snapshot_source"
group by "region", "customer_id"
having count(*) > 1
order by n desc, "region", "customer_id"
limit 5;

select count(*) filter (where "region" is null or "customer_id" is null), count(*) filter (where "updated_at" is null)
from "__sqlml_snapshot_source";
