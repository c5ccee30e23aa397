select count(*) filter (where "customer_id" is null), count(*) filter (where false)
from "__sqlml_snapshot_source";
