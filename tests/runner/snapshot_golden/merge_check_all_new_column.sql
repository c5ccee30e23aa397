alter table "warehouse"."snapshots"."customers" add column "segment" VARCHAR;

create or replace temp table "__sqlml_snapshot_changes" as
select
    staged.*,
    md5(to_json([cast(staged."customer_id" as varchar), cast(staged."country" as varchar), cast(cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as DATE) as varchar)])) as sqlml_scd_id,
    cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as DATE) as sqlml_updated_at,
    cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as DATE) as sqlml_valid_from,
    latest.sqlml_scd_id is not null as sqlml_closes
from "__sqlml_snapshot_source" as staged
left join (
    select * from "warehouse"."snapshots"."customers" where sqlml_valid_to is null
) as latest
    on staged."customer_id" = latest."customer_id" and staged."country" = latest."country"
where latest.sqlml_scd_id is null
    or (staged."updated_at" is distinct from latest."updated_at");

update "warehouse"."snapshots"."customers" as snap
set sqlml_valid_to = changes.sqlml_valid_from
from "__sqlml_snapshot_changes" as changes
where changes.sqlml_closes
    and snap.sqlml_valid_to is null
    and snap."customer_id" = changes."customer_id" and snap."country" = changes."country";

update "warehouse"."snapshots"."customers" as snap
set sqlml_valid_to = greatest(cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as DATE), snap.sqlml_valid_from)
where snap.sqlml_valid_to is null
    and not exists (
        select 1 from "__sqlml_snapshot_source" as staged
        where staged."customer_id" = snap."customer_id" and staged."country" = snap."country"
    );

insert into "warehouse"."snapshots"."customers" by name
select * exclude (sqlml_closes), cast(null as DATE) as sqlml_valid_to
from "__sqlml_snapshot_changes";
