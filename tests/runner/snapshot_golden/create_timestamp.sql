create table "warehouse"."snapshots"."customers" as
select
    *,
    md5(to_json([cast("customer_id" as varchar), cast("updated_at" as varchar)])) as sqlml_scd_id,
    "updated_at" as sqlml_updated_at,
    "updated_at" as sqlml_valid_from,
    cast(null as TIMESTAMP) as sqlml_valid_to
from "__sqlml_snapshot_source";
