create or replace temp table "__sqlml_snapshot_changes" as
select
    staged.*,
    md5(to_json([cast(staged."customer_id" as varchar), cast(case when latest.sqlml_scd_id is null then greatest(staged."updated_at", history.sqlml_valid_to) when staged."updated_at" > latest.sqlml_valid_from then staged."updated_at" else cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as TIMESTAMP) end as varchar)])) as sqlml_scd_id,
    staged."updated_at" as sqlml_updated_at,
    case when latest.sqlml_scd_id is null then greatest(staged."updated_at", history.sqlml_valid_to) when staged."updated_at" > latest.sqlml_valid_from then staged."updated_at" else cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as TIMESTAMP) end as sqlml_valid_from,
    latest.sqlml_scd_id is not null as sqlml_closes
from "__sqlml_snapshot_source" as staged
left join (
    select * from "warehouse"."snapshots"."customers" where sqlml_valid_to is null
) as latest
    on staged."customer_id" = latest."customer_id"
left join (
    select "customer_id", max(sqlml_valid_to) as sqlml_valid_to,
        max(sqlml_valid_from) as sqlml_valid_from
    from "warehouse"."snapshots"."customers"
    group by "customer_id"
) as history
    on staged."customer_id" = history."customer_id"
where (latest.sqlml_scd_id is null
    or staged."updated_at" > latest.sqlml_updated_at)
    and (history.sqlml_valid_from is null or case when latest.sqlml_scd_id is null then greatest(staged."updated_at", history.sqlml_valid_to) when staged."updated_at" > latest.sqlml_valid_from then staged."updated_at" else cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as TIMESTAMP) end > history.sqlml_valid_from);

update "warehouse"."snapshots"."customers" as snap
set sqlml_valid_to = changes.sqlml_valid_from
from "__sqlml_snapshot_changes" as changes
where changes.sqlml_closes
    and snap.sqlml_valid_to is null
    and snap."customer_id" = changes."customer_id";

update "warehouse"."snapshots"."customers" as snap
set sqlml_valid_to = greatest(cast(cast('2026-11-02 06:30:00.000000+00' as TIMESTAMP WITH TIME ZONE) as TIMESTAMP), snap.sqlml_valid_from)
where snap.sqlml_valid_to is null
    and not exists (
        select 1 from "__sqlml_snapshot_source" as staged
        where staged."customer_id" = snap."customer_id"
    );

insert into "warehouse"."snapshots"."customers" by name
select * exclude (sqlml_closes), cast(null as TIMESTAMP) as sqlml_valid_to
from "__sqlml_snapshot_changes";
