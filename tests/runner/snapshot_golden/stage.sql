create or replace temp table "__sqlml_snapshot_source" as
select * from "warehouse"."main"."stg_customers";
