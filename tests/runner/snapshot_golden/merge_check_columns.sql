create or replace temp table "__sqlml_snapshot_changes" as
select
    staged.*,
    md5(to_json([cast(staged."customer_id" as varchar), cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as varchar)])) as sqlml_scd_id,
    cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as sqlml_updated_at,
    cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as sqlml_valid_from,
    latest.sqlml_scd_id is not null as sqlml_closes
from "__sqlml_snapshot_source" as staged
left join (
    select * from "warehouse"."snapshots"."customers" where sqlml_valid_to is null
) as latest
    on staged."customer_id" = latest."customer_id"
where latest.sqlml_scd_id is null
    or (staged."country" is distinct from latest."country"
        or staged."segment" is distinct from latest."segment");

update "warehouse"."snapshots"."customers" as snap
set sqlml_valid_to = changes.sqlml_valid_from
from "__sqlml_snapshot_changes" as changes
where changes.sqlml_closes
    and snap.sqlml_valid_to is null
    and snap."customer_id" = changes."customer_id";

insert into "warehouse"."snapshots"."customers" by name
select * exclude (sqlml_closes), cast(null as TIMESTAMP WITH TIME ZONE) as sqlml_valid_to
from "__sqlml_snapshot_changes";
