create table "warehouse"."snapshots"."customers" as
select
    *,
    md5(to_json([cast("customer_id" as varchar), cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as varchar)])) as sqlml_scd_id,
    cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as sqlml_updated_at,
    cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as sqlml_valid_from,
    cast(null as TIMESTAMP WITH TIME ZONE) as sqlml_valid_to
from "__sqlml_snapshot_source";
